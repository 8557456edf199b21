package sdjoincmd

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/check"
)

// Check timing of the tests: withdrawal takes two failed checks, so
// peers must stop listing an entry within 2 intervals plus leaveBound.
const (
	testInterval  = 200 * time.Millisecond
	withdrawBound = 2*testInterval + leaveBound
)

var testCheckKnobs = []string{"--check-interval", testInterval.String(), "--check-timeout", "150ms"}

// ownEntry returns the agent's own entry of service (list --local),
// and whether there is one.
func ownEntry(t *testing.T, sock, service string) (record, bool) {
	t.Helper()
	for _, r := range localEntries(t, sock) {
		if r.Service == service {
			return r, true
		}
	}
	return record{}, false
}

// waitLocal waits until the agent's own entry of service is in state
// (list --local) and returns it.
func waitLocal(t *testing.T, sock, service, state string) record {
	t.Helper()
	var r record
	waitFor(t, 10*time.Second, service+" "+state+" in list --local", func() bool {
		var ok bool
		r, ok = ownEntry(t, sock, service)
		return ok && r.State == state
	})
	return r
}

// TestCheckTCP: an agent's --track with a TCP check is advertised only
// once the check passes, withdrawn (peers see it leave) when the
// listener goes away, and back when it returns.
func TestCheckTCP(t *testing.T) {
	t.Parallel()
	port := strconv.Itoa(freePort(t))
	addr := "127.0.0.1:" + port
	args := append([]string{"--track", "api", "--meta", "port=" + port, "--check", "tcp://" + addr}, testCheckKnobs...)
	a, b := agentPair(t, args...)

	// Failing from the start: pending, never advertised.
	waitFor(t, 10*time.Second, "two failed checks", func() bool {
		r, ok := ownEntry(t, a.sock, "api")
		return ok && len(r.Checks) == 1 && strings.Contains(r.Checks[0].Output, "refused") && r.State == "pending"
	})
	if got := entries(t, a.sock, "api"); len(got) != 0 {
		t.Fatalf("a advertises api before its check passed: %+v", got)
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	go acceptAll(ln)
	waitMetas(t, b.sock, "api", 5*time.Second, port)
	waitLocal(t, a.sock, "api", "passing")

	ln.Close()
	closed := time.Now()
	seen := waitMetas(t, b.sock, "api", withdrawBound+time.Second)
	t.Logf("peer stopped listing api %v after its listener closed (interval %v)", seen.Sub(closed).Round(time.Millisecond), testInterval)
	if took := seen.Sub(closed); took > withdrawBound {
		t.Errorf("withdrawn after %v, want under %v", took, withdrawBound)
	}
	r := waitLocal(t, a.sock, "api", "critical")
	if len(r.Checks) != 1 || !strings.Contains(r.Checks[0].Output, "refused") {
		t.Errorf("critical entry's checks %+v: want the connection error", r.Checks)
	}

	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go acceptAll(ln)
	waitMetas(t, b.sock, "api", 5*time.Second, port)
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

// TestCheckHTTP: an entry of sdjoin track with an HTTP check follows the
// server's answers (500, then 200, then 500); list --local shows why it
// is withdrawn, never the URL's password; untrack stops the check.
func TestCheckHTTP(t *testing.T) {
	t.Parallel()
	a, b := agentPair(t)
	var status, hits atomic.Int32
	status.Store(http.StatusInternalServerError)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(int(status.Load()))
		fmt.Fprintf(w, "status %d\n", status.Load())
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	url := fmt.Sprintf("http://user:s3cret@%s/health", ln.Addr())
	args := append([]string{"track", "web", "--meta", "port=80", "--check", url, "--socket", a.sock}, testCheckKnobs...)
	if code, _, errs := runCLI(context.Background(), args...); code != 0 {
		t.Fatalf("track: exit %d: %s", code, errs)
	}
	r := waitLocal(t, a.sock, "web", "pending")
	if got := entries(t, b.sock, "web"); len(got) != 0 {
		t.Fatalf("web advertised while its check fails: %+v", got)
	}

	status.Store(http.StatusOK)
	waitMetas(t, b.sock, "web", 5*time.Second, "80")
	status.Store(http.StatusInternalServerError)
	failed := time.Now()
	seen := waitMetas(t, b.sock, "web", withdrawBound+time.Second)
	if took := seen.Sub(failed); took > withdrawBound {
		t.Errorf("withdrawn after %v, want under %v", took, withdrawBound)
	}
	r = waitLocal(t, a.sock, "web", "critical")
	if len(r.Checks) != 1 || !strings.Contains(r.Checks[0].Output, "500") {
		t.Errorf("critical entry's checks %+v: want the 500", r.Checks)
	}
	code, text, errs := runCLI(context.Background(), "list", "--local", "--socket", a.sock)
	if code != 0 || !strings.Contains(text, "critical (withdrawn)") || !strings.Contains(text, "500") {
		t.Errorf("list --local: exit %d, %q (%s): want the withdrawn entry and its 500", code, text, errs)
	}
	_, js, _ := runCLI(context.Background(), "list", "--local", "--json", "--socket", a.sock)
	if out := text + js; strings.Contains(out, "s3cret") || !strings.Contains(out, "xxxxx@") {
		t.Errorf("list --local shows the URL's password or no redacted URL:\n%s", out)
	}

	if code, _, errs := runCLI(context.Background(), "untrack", "web", "--socket", a.sock); code != 0 {
		t.Fatalf("untrack: exit %d: %s", code, errs)
	}
	if _, ok := ownEntry(t, a.sock, "web"); ok {
		t.Error("web still in list --local after untrack")
	}
	// Not waiting for a condition: checking that nothing happens for 3
	// intervals.
	before := hits.Load()
	status.Store(http.StatusOK)
	time.Sleep(3 * testInterval)
	if n := hits.Load() - before; n > 1 { // one may have been in flight
		t.Errorf("%d checks ran after untrack", n)
	}
	if got := entries(t, b.sock, "web"); len(got) != 0 {
		t.Errorf("web back after untrack: %+v", got)
	}
}

// TestCheckExec: an exec check of sdjoin run follows the command's exit
// status; an exec check of a missing binary fails with that error and
// the agent keeps running.
func TestCheckExec(t *testing.T) {
	t.Parallel()
	a, b := agentPair(t)
	flag := filepath.Join(t.TempDir(), "healthy")
	args := append([]string{"run", "--socket", a.sock, "--track", "job", "--meta", "port=1",
		"--check", "exec:test -e " + flag}, testCheckKnobs...)
	sdjoinProc(t, append(args, "--", "sleep", "600")...)
	waitLocal(t, a.sock, "job", "pending")
	writeFile(t, flag, "")
	waitMetas(t, b.sock, "job", 5*time.Second, "1")
	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	waitMetas(t, b.sock, "job", withdrawBound+time.Second)
	waitLocal(t, a.sock, "job", "critical")

	args = append([]string{"track", "ghost", "--check", "exec:/nonexistent/probe", "--socket", a.sock}, testCheckKnobs...)
	if code, _, errs := runCLI(context.Background(), args...); code != 0 {
		t.Fatalf("track ghost: exit %d: %s", code, errs)
	}
	waitFor(t, 10*time.Second, "the missing probe's error in list --local", func() bool {
		r, ok := ownEntry(t, a.sock, "ghost")
		return ok && r.State == "pending" && len(r.Checks) == 1 && strings.Contains(r.Checks[0].Output, "/nonexistent/probe")
	})
	if got := entries(t, b.sock, "ghost"); len(got) != 0 {
		t.Errorf("ghost advertised: %+v", got)
	}
}

func TestRedactSpec(t *testing.T) {
	tests := []struct{ spec, want string }{
		{"http://user:pass@192.0.2.1/health", "http://xxxxx@192.0.2.1/health"},
		{"HTTPS://user@192.0.2.1:8443", "HTTPS://xxxxx@192.0.2.1:8443"},
		{"http://u:p@a@192.0.2.1/x@y", "http://xxxxx@192.0.2.1/x@y"},
		{"http://192.0.2.1/a@b", "http://192.0.2.1/a@b"},
		{"http://192.0.2.1/?q=a@b", "http://192.0.2.1/?q=a@b"},
		{"tcp://192.0.2.1:80", "tcp://192.0.2.1:80"},
		{"exec:curl -u user:pass@x", "exec:curl -u user:pass@x"},
	}
	for _, tt := range tests {
		if got := redactSpec(tt.spec); got != tt.want {
			t.Errorf("redactSpec(%q) = %q, want %q", tt.spec, got, tt.want)
		}
	}
}

// FuzzRedactSpec: whatever http(s) spec check.Parse accepts, the
// redacted form shows no userinfo but xxxxx.
func FuzzRedactSpec(f *testing.F) {
	f.Add("http://user:pass@192.0.2.1/health")
	f.Add("https://u@[2001:db8::1]:8443/x?y=a@b#c@d")
	f.Add("http://192.0.2.1/a@b")
	f.Fuzz(func(t *testing.T, spec string) {
		if _, err := check.Parse(spec); err != nil {
			return
		}
		u, err := url.Parse(redactSpec(spec))
		if err != nil || u.User == nil {
			return
		}
		if u.User.String() != "xxxxx" {
			t.Fatalf("redactSpec(%q) = %q shows userinfo %q", spec, redactSpec(spec), u.User)
		}
	})
}
