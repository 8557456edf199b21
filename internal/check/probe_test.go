package check

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// runSpec parses spec and runs it once with a timeout.
func runSpec(t *testing.T, spec string, timeout time.Duration) Result {
	t.Helper()
	s, err := Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	return s.Run(ctx)
}

// startRunner returns a real Runner checking spec every 50 ms.
func startRunner(t *testing.T, spec string, timeout time.Duration) *Runner {
	t.Helper()
	s, err := Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	r := NewRunner()
	t.Cleanup(func() { r.Close() })
	if err := r.Add("e", Entry{Specs: []Spec{s}, Interval: 50 * time.Millisecond, Timeout: timeout}); err != nil {
		t.Fatal(err)
	}
	return r
}

// waitState waits until entry "e" of r is in state want with output
// containing out.
func waitState(t *testing.T, r *Runner, want State, out string) CheckStatus {
	t.Helper()
	var last CheckStatus
	lab.Eventually(t, 10*time.Second, want.String()+" with output "+out, func() error {
		s, _ := r.Status("e")
		last = s.Checks[0]
		if s.State != want || !strings.Contains(last.Output, out) {
			return fmt.Errorf("%v with output %q", s.State, last.Output)
		}
		return nil
	})
	return last
}

func TestTCPCheckListenerGoesAndComes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	go acceptAll(ln)
	r := startRunner(t, "tcp://"+addr, time.Second)
	waitState(t, r, Passing, "connected to "+addr)

	ln.Close()
	c := waitState(t, r, Critical, "connection refused")
	if c.Failures < 2 || c.Time.IsZero() {
		t.Errorf("withdrawn check: %+v", c)
	}

	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go acceptAll(ln)
	waitState(t, r, Passing, "connected to "+addr)
}

func acceptAll(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}

func TestHTTPCheck(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "all good\n") })
	mux.HandleFunc("/nocontent", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/down", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/down", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "db unreachable", http.StatusInternalServerError)
	})
	mux.HandleFunc("/endless", func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("\x1b", 1024))
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	tls := httptest.NewTLSServer(mux)
	defer tls.Close()

	tests := []struct {
		name, url string
		pass      bool
		out       string
	}{
		{"ok", srv.URL + "/ok", true, "HTTP 200 OK: all good"},
		{"no_content", srv.URL + "/nocontent", true, "HTTP 204 No Content"},
		{"redirect_passes_unfollowed", srv.URL + "/moved", true, "HTTP 301 Moved Permanently"},
		{"server_error", srv.URL + "/down", false, "HTTP 500 Internal Server Error: db unreachable"},
		{"not_found", srv.URL + "/nothing", false, "HTTP 404 Not Found"},
		{"endless_body_bounded", srv.URL + "/endless", true, `HTTP 200 OK: \x1b\x1b`},
		{"hang_times_out", srv.URL + "/hang", false, "context deadline exceeded"},
		{"self_signed_https_fails", tls.URL + "/ok", false, "certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			res := runSpec(t, tt.url, time.Second)
			if res.Pass != tt.pass || !strings.HasPrefix(res.Output, tt.out) && !strings.Contains(res.Output, tt.out) {
				t.Errorf("got %+v, want pass %v, output %q", res, tt.pass, tt.out)
			}
			if len(res.Output) > MaxOutput {
				t.Errorf("output is %d bytes", len(res.Output))
			}
			if tt.pass && time.Since(start) > 900*time.Millisecond {
				t.Errorf("took %v", time.Since(start))
			}
		})
	}
}

func TestHTTPCheckServerRecovers(t *testing.T) {
	var status atomic.Int32
	status.Store(http.StatusInternalServerError)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(status.Load()))
	}))
	defer srv.Close()
	r := startRunner(t, srv.URL+"/health", time.Second)
	c := waitState(t, r, Pending, "HTTP 500")
	if c.Failures == 0 {
		t.Errorf("pending check: %+v", c)
	}
	status.Store(http.StatusOK)
	waitState(t, r, Passing, "HTTP 200")
	status.Store(http.StatusServiceUnavailable)
	waitState(t, r, Critical, "HTTP 503")
	status.Store(http.StatusOK)
	waitState(t, r, Passing, "HTTP 200")
}

// TestRunnerTimeoutCancelsHTTP checks that the Runner's timeout cancels a
// request the server never answers, and says so.
func TestRunnerTimeoutCancelsHTTP(t *testing.T) {
	var hung atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hung.Load() {
			<-r.Context().Done()
		}
	}))
	defer srv.Close()
	r := startRunner(t, srv.URL, 200*time.Millisecond)
	waitState(t, r, Passing, "HTTP 200 OK")
	hung.Store(true)
	c := waitState(t, r, Critical, "timed out after 200ms")
	if c.Output != "timed out after 200ms" {
		t.Errorf("output %q", c.Output)
	}
}

// pyServer answers GET with 200 while the file named by its argument
// exists and 500 otherwise, and prints its port.
const pyServer = `
import http.server, os, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        up = os.path.exists(sys.argv[1])
        self.send_response(200 if up else 500)
        self.end_headers()
        self.wfile.write(b"up" if up else b"down")
    def log_message(self, *args):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
`

// TestHTTPCheckExternalServer checks against a real Python http.server
// process on loopback that answers 500, then 200.
func TestHTTPCheckExternalServer(t *testing.T) {
	lab.NeedTools(t, "python3")
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal(err)
	}
	flag := filepath.Join(t.TempDir(), "up")
	cmd := exec.Command(py, "-c", pyServer, flag)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	port, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatal("python server did not start:", err)
	}
	r := startRunner(t, "http://127.0.0.1:"+strings.TrimSpace(port)+"/health", time.Second)
	waitState(t, r, Pending, "HTTP 500 Internal Server Error: down")
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitState(t, r, Passing, "HTTP 200 OK: up")
}
