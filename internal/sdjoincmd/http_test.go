package sdjoincmd

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/cliutil"
	"github.com/ipfinder-go/ipfinder/tracker"
)

// apiClient calls an agent's HTTP API at base (http://127.0.0.1:PORT).
type apiClient struct {
	t    *testing.T
	base string
	c    *http.Client
}

// startHTTPAgent starts an agent with --http on a free loopback port and
// waits until the API answers.
func startHTTPAgent(t *testing.T, name string, port int, hostfile string, args ...string) (*testAgent, apiClient) {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	a := startAgent(t, name, port, hostfile, append([]string{"--http", addr}, args...)...)
	api := apiClient{t: t, base: "http://" + addr, c: &http.Client{Timeout: 10 * time.Second}}
	api.waitUp(name)
	return a, api
}

// waitUp waits until the API of agent name answers.
func (api apiClient) waitUp(name string) {
	api.t.Helper()
	waitFor(api.t, 5*time.Second, name+" HTTP API", func() bool {
		resp, err := api.c.Get(api.base + "/v1/members")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
}

// do sends a request (hdr: name, value pairs) and returns the status,
// header and body.
func (api apiClient) do(method, path, body string, hdr ...string) (int, http.Header, string) {
	api.t.Helper()
	req, err := http.NewRequest(method, api.base+path, strings.NewReader(body))
	if err != nil {
		api.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := api.c.Do(req)
	if err != nil {
		api.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		api.t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// get GETs path, expects status and a JSON reply, and decodes it into v.
func (api apiClient) get(path string, status int, v any) {
	api.t.Helper()
	code, h, body := api.do("GET", path, "")
	api.checkJSON("GET "+path, code, status, h, body, v)
}

// checkJSON checks a reply's status and content type and decodes its
// body into v (nil: any JSON).
func (api apiClient) checkJSON(what string, code, want int, h http.Header, body string, v any) {
	api.t.Helper()
	if code != want {
		api.t.Fatalf("%s: status %d, want %d: %s", what, code, want, body)
	}
	if ct := h.Get("Content-Type"); ct != "application/json" {
		api.t.Errorf("%s: Content-Type %q, want application/json", what, ct)
	}
	if v == nil {
		v = new(any)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		api.t.Fatalf("%s: body %q is not JSON: %v", what, body, err)
	}
}

// checkError checks an error reply: status, JSON {"error": one line}.
func (api apiClient) checkError(what string, code, want int, h http.Header, body string) string {
	api.t.Helper()
	var e struct{ Error string }
	api.checkJSON(what, code, want, h, body, &e)
	if e.Error == "" || strings.ContainsAny(e.Error, "\n\r") {
		api.t.Errorf("%s: error %q, want one non-empty line", what, e.Error)
	}
	return e.Error
}

// eventStream reads an SSE stream of records.
type eventStream struct {
	events chan record
	pings  atomic.Int32
	body   io.ReadCloser
}

// streamClient opens event streams: the header must come within 5 s,
// even when there is nothing to replay yet.
var streamClient = &http.Client{Transport: &http.Transport{ResponseHeaderTimeout: 5 * time.Second}}

// openEvents opens GET /v1/events?query and reads it until the test
// ends.
func (api apiClient) openEvents(query string) *eventStream {
	api.t.Helper()
	resp, err := streamClient.Get(api.base + "/v1/events?" + query)
	if err != nil {
		api.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		resp.Body.Close()
		api.t.Fatalf("GET /v1/events: %s, Content-Type %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	s := &eventStream{events: make(chan record, 64), body: resp.Body}
	done := make(chan struct{})
	api.t.Cleanup(func() { resp.Body.Close(); <-done })
	go func() {
		defer close(done)
		defer close(s.events)
		br := bufio.NewReader(resp.Body)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			switch {
			case line == ": ping\n":
				s.pings.Add(1)
			case strings.HasPrefix(line, "data: "):
				var r record
				if err := json.Unmarshal([]byte(line[len("data: "):]), &r); err != nil {
					api.t.Errorf("SSE data line %q: %v", line, err)
					return
				}
				s.events <- r
			case line == "\n":
			default:
				api.t.Errorf("unexpected SSE line %q", line)
			}
		}
	}()
	return s
}

// next returns the first event that matches, failing the test after
// timeout.
func (s *eventStream) next(t *testing.T, what string, match func(record) bool) record {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case r, ok := <-s.events:
			if !ok {
				t.Fatalf("event stream ended waiting for %s", what)
			}
			if match(r) {
				return r
			}
		case <-deadline:
			t.Fatalf("no %s on the event stream", what)
		}
	}
}

// checkServer listens on loopback for tcp:// checks and returns its
// address.
func checkServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln.Addr().String()
}

// TestHTTPCluster: services, members and pick of a three-agent cluster
// over HTTP, with this node's check state.
func TestHTTPCluster(t *testing.T) {
	t.Parallel()
	p1, p2, p3 := freePort(t), freePort(t), freePort(t)
	hosts := hostfileOf(t, p1, p2, p3)
	chk := "tcp://" + checkServer(t)
	a1, api := startHTTPAgent(t, "node1", p1, hosts, "--track", "db", "--meta", "port=5432",
		"--check", chk, "--check-interval", "100ms")
	a2 := startAgent(t, "node2", p2, hosts, "--track", "web", "--meta", "load=1")
	a3 := startAgent(t, "node3", p3, hosts, "--track", "web", "--meta", "load=5")

	var all []record
	waitFor(t, 10*time.Second, "3 entries and 3 members over HTTP", func() bool {
		var ms []record
		api.get("/v1/services", 200, &all)
		api.get("/v1/members", 200, &ms)
		return len(all) == 3 && len(ms) == 3
	})
	for _, r := range all {
		switch r.Node {
		case a1.node():
			if r.Service != "db" || !r.Local || r.State != "passing" || len(r.Checks) != 1 || r.Checks[0].Check != chk || r.Checks[0].State != "passing" {
				t.Errorf("node1's entry with its check state = %+v", r)
			}
		case a2.node(), a3.node():
			if r.Service != "web" || r.Local || r.State != "" || r.Checks != nil {
				t.Errorf("remote entry = %+v, want web without check state", r)
			}
		default:
			t.Errorf("entry of unknown node %+v", r)
		}
	}
	var web []record
	api.get("/v1/services/web", 200, &web)
	if got := nodes(web); !slices.Equal(got, []string{a2.node(), a3.node()}) {
		t.Errorf("GET /v1/services/web: nodes %v", got)
	}
	if code, _, body := api.do("GET", "/v1/services/none", ""); code != 200 || body != "[]\n" {
		t.Errorf("GET /v1/services/none = %d %q, want 200 []", code, body)
	}

	var r record
	api.get("/v1/pick/web?policy=least:load", 200, &r)
	if r.Node != a2.node() || r.Meta["load"] != "1" {
		t.Errorf("pick least:load = %+v, want node2", r)
	}
	api.get("/v1/pick/db?policy=local", 200, &r)
	if r.Node != a1.node() {
		t.Errorf("pick db local = %+v, want node1", r)
	}
	seen := map[string]bool{}
	for range 4 {
		api.get("/v1/pick/web?policy=round-robin", 200, &r)
		seen[r.Node] = true
	}
	api.get("/v1/pick/web", 200, &r) // random
	if len(seen) != 2 || r.Service != "web" {
		t.Errorf("round-robin saw %v; random gave %+v", seen, r)
	}
	code, h, body := api.do("GET", "/v1/pick/nothing", "")
	if msg := api.checkError("pick nothing", code, 404, h, body); msg != "no provider of nothing" {
		t.Errorf("pick nothing: error %q", msg)
	}
}

// TestHTTPEventsAndTrack: an SSE stream on node1 replays the state, then
// sees a service tracked on node2 over HTTP (from loopback, no token)
// join and leave; a stream of one service sees only it; pings arrive.
func TestHTTPEventsAndTrack(t *testing.T) {
	t.Parallel()
	p1, p2 := freePort(t), freePort(t)
	hosts := hostfileOf(t, p1, p2)
	_, api1 := startHTTPAgent(t, "node1", p1, hosts, "--track", "base", "--http-keepalive", "50ms")
	a2, api2 := startHTTPAgent(t, "node2", p2, hosts)
	waitFor(t, 10*time.Second, "node1 seeing node2", func() bool {
		var ms []record
		api1.get("/v1/members", 200, &ms)
		return len(ms) == 2
	})

	all := api1.openEvents("")
	only := api1.openEvents("service=late")
	all.next(t, "replayed join of base", func(r record) bool { return r.Event == evJoin && r.Service == "base" })
	all.next(t, "replayed member-join of node2", func(r record) bool { return r.Event == evMemberJoin && r.Node == a2.node() })

	code, h, body := api2.do("PUT", "/v1/track/late", `{"meta":{"port":"8080"}}`)
	var e record
	api2.checkJSON("PUT /v1/track/late", code, 200, h, body, &e)
	if e.Service != "late" || e.Key != trackKey || e.Node != a2.node() || e.Meta["port"] != "8080" || e.State != "passing" {
		t.Errorf("PUT reply %+v", e)
	}
	for _, s := range []*eventStream{all, only} {
		j := s.next(t, "join of late", func(r record) bool { return r.Event == evJoin && r.Service == "late" })
		if j.Node != a2.node() || j.Meta["port"] != "8080" {
			t.Errorf("join event %+v", j)
		}
	}
	if code, _, body := api2.do("DELETE", "/v1/track/late", ""); code != http.StatusNoContent || body != "" {
		t.Errorf("DELETE /v1/track/late = %d %q, want 204", code, body)
	}
	for _, s := range []*eventStream{all, only} {
		s.next(t, "leave of late", func(r record) bool { return r.Event == evLeave && r.Service == "late" && r.Node == a2.node() })
	}
	code, h, body = api2.do("DELETE", "/v1/track/late", "")
	api2.checkError("DELETE again", code, 404, h, body)
	waitFor(t, 5*time.Second, "pings", func() bool { return all.pings.Load() >= 2 })
	select {
	case r := <-only.events:
		t.Errorf("stream of late got %+v", r)
	default:
	}
}

// TestHTTPToken: with --http-token-file, track and untrack need the
// token; reading does not.
func TestHTTPToken(t *testing.T) {
	t.Parallel()
	tok := "s3cret-token-0123456789"
	tf := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tf, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := freePort(t)
	a, api := startHTTPAgent(t, "node1", p, hostfileOf(t, p), "--http-token-file", tf)
	for _, tc := range []struct{ name, auth string }{
		{"none", ""}, {"wrong", "Bearer s3cret-token-0123456780"}, {"prefix", "Bearer s3cret"}, {"basic", "Basic " + tok},
	} {
		code, h, body := api.do("PUT", "/v1/track/db", "", "Authorization", tc.auth)
		api.checkError("PUT with "+tc.name+" token", code, 401, h, body)
		if !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("401 without WWW-Authenticate: Bearer: %v", h)
		}
	}
	code, _, body := api.do("PUT", "/v1/track/db", "", "Authorization", "Bearer "+tok)
	if code != 200 || len(a.list(t, "db")) != 1 {
		t.Errorf("PUT with the token = %d %s; list db %v", code, body, a.list(t, "db"))
	}
	code, h, body := api.do("DELETE", "/v1/track/db", "")
	api.checkError("DELETE without the token", code, 401, h, body)
	if code, _, body := api.do("DELETE", "/v1/track/db", "", "Authorization", "Bearer "+tok); code != 204 {
		t.Errorf("DELETE with the token = %d %s", code, body)
	}
	api.get("/v1/services", 200, nil)
}

// TestHTTPTokenFileRefused: a token file others may read, or a weak
// token, stops the agent from starting (exit 1, naming the fix).
func TestHTTPTokenFileRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name, content string
		mode          os.FileMode
		want          string
	}{
		{"group_readable", "s3cret-token-0123456789", 0o640, "chmod 600"},
		{"short", "short", 0o600, "at least 16"},
		{"space_inside", "s3cret token 0123456789", 0o600, "visible ASCII"},
		{"oversized", strings.Repeat("x", 5000), 0o600, "over 4096 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tf := filepath.Join(dir, tt.name)
			if err := os.WriteFile(tf, []byte(tt.content), tt.mode); err != nil {
				t.Fatal(err)
			}
			os.Chmod(tf, tt.mode)
			code, _, errs := runCLI(t.Context(), "--http", "127.0.0.1:1", "--http-token-file", tf, "--no-discover",
				"--socket", filepath.Join(t.TempDir(), "s.sock"), "--hostfile", filepath.Join(dir, "none"), "--bind", "127.0.0.1:1")
			if code != cliutil.ExitFailure || !strings.Contains(errs, tt.want) || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
				t.Errorf("exit %d, stderr %q; want exit 1, one line with %q", code, errs, tt.want)
			}
		})
	}
	code, _, errs := runCLI(t.Context(), "--http-token-file", filepath.Join(dir, "short"))
	if code != cliutil.ExitUsage || !strings.Contains(errs, "needs --http") {
		t.Errorf("--http-token-file without --http: exit %d %q", code, errs)
	}
	code, _, errs = runCLI(t.Context(), "--http", "localhost")
	if code != cliutil.ExitUsage || !strings.Contains(errs, "127.0.0.1:8500") {
		t.Errorf("--http localhost: exit %d %q", code, errs)
	}
}

// TestHTTPGuard: without a token, track and untrack are refused to
// non-loopback peers and to loopback requests naming the server by a
// DNS name (rebinding); with one, the token decides.
func TestHTTPGuard(t *testing.T) {
	tokenSum := func(tok string) *httpServer {
		s := &httpServer{}
		s.setToken([]byte(tok))
		return s
	}
	tests := []struct {
		name, remote, host, auth string
		s                        *httpServer
		want                     int
	}{
		{"loopback_v4", "127.0.0.1:40000", "127.0.0.1:8500", "", &httpServer{}, 200},
		{"loopback_v6", "[::1]:40000", "[::1]:8500", "", &httpServer{}, 200},
		{"loopback_mapped", "[::ffff:127.0.0.1]:40000", "localhost:8500", "", &httpServer{}, 200},
		{"lan_peer", "192.0.2.7:40000", "192.0.2.1:8500", "", &httpServer{}, 403},
		{"lan_peer_v6", "[2001:db8::7]:40000", "[2001:db8::1]:8500", "", &httpServer{}, 403},
		{"rebound_name", "127.0.0.1:40000", "evil.example:8500", "", &httpServer{}, 403},
		{"lan_peer_token", "192.0.2.7:40000", "sdjoin.example:8500", "Bearer 0123456789abcdef", tokenSum("0123456789abcdef"), 200},
		{"loopback_no_token", "127.0.0.1:40000", "127.0.0.1:8500", "", tokenSum("0123456789abcdef"), 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.s.guard(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
			r, _ := http.NewRequest("PUT", "http://"+tt.host+"/v1/track/x", nil)
			r.RemoteAddr, r.Host = tt.remote, tt.host
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			w := &statusRecorder{header: http.Header{}}
			h(w, r)
			if w.status != tt.want {
				t.Errorf("status %d, want %d", w.status, tt.want)
			}
		})
	}
}

// statusRecorder is a minimal http.ResponseWriter keeping the status.
type statusRecorder struct {
	header http.Header
	status int
}

func (s *statusRecorder) Header() http.Header { return s.header }
func (s *statusRecorder) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = 200
	}
	return len(p), nil
}
func (s *statusRecorder) WriteHeader(code int) { s.status = code }

// TestHTTPBadRequests: wrong methods, paths, names, bodies and
// parameters get the right status and a one-line JSON error.
func TestHTTPBadRequests(t *testing.T) {
	t.Parallel()
	p := freePort(t)
	a, api := startHTTPAgent(t, "node1", p, hostfileOf(t, p), "--track", "web")
	tests := []struct {
		name, method, path, body string
		want                     int
	}{
		{"post_services", "POST", "/v1/services", "", 405},
		{"get_track", "GET", "/v1/track/web", "", 405},
		{"unknown_path", "GET", "/v2/services", "", 404},
		{"control_char_name", "PUT", "/v1/track/a%0Ab", "", 400},
		{"escape_name", "GET", "/v1/pick/a%1B%5B2J", "", 400},
		{"not_json", "PUT", "/v1/track/db", "meta=1", 400},
		{"unknown_field", "PUT", "/v1/track/db", `{"check":["tcp://127.0.0.1:1"]}`, 400},
		{"two_values", "PUT", "/v1/track/db", `{} {}`, 400},
		{"meta_number", "PUT", "/v1/track/db", `{"meta":{"port":5432}}`, 400},
		{"meta_control", "PUT", "/v1/track/db", `{"meta":{"k":"a\u001bb"}}`, 400},
		{"bad_check", "PUT", "/v1/track/db", `{"checks":["ftp://x"]}`, 400},
		{"short_interval", "PUT", "/v1/track/db", `{"checks":["tcp://127.0.0.1:1"],"interval_ms":10}`, 400},
		{"bad_policy", "GET", "/v1/pick/web?policy=least:", "", 400},
		{"bad_local", "GET", "/v1/services?local=maybe", "", 400},
		{"bad_stream_service", "GET", "/v1/events?service=%1B", "", 400},
		{"untrack_unknown", "DELETE", "/v1/track/never", "", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, h, body := api.do(tt.method, tt.path, tt.body)
			api.checkError(tt.method+" "+tt.path, code, tt.want, h, body)
			if tt.want == 405 && !strings.Contains(h.Get("Allow"), "GET") && !strings.Contains(h.Get("Allow"), "PUT") {
				t.Errorf("405 with Allow %q", h.Get("Allow"))
			}
		})
	}
	if rs := a.list(t, "db"); len(rs) != 0 {
		t.Errorf("a refused track tracked db: %v", rs)
	}
}

// TestHTTPHugeBody: a 10 MB body is refused with 413 after 64 KiB, and
// the agent goes on answering.
func TestHTTPHugeBody(t *testing.T) {
	t.Parallel()
	p := freePort(t)
	a, api := startHTTPAgent(t, "node1", p, hostfileOf(t, p))
	c, err := net.Dial("tcp", strings.TrimPrefix(api.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const size = 10 << 20
	fmt.Fprintf(c, "PUT /v1/track/db HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{\"meta\":{\"k\":\"", size)
	go func() { // until the server stops reading and closes
		chunk := []byte(strings.Repeat("x", 64<<10))
		for i := 0; i < size/len(chunk); i++ {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	}()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no reply to a 10 MB body: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	api.checkError("10 MB body", resp.StatusCode, http.StatusRequestEntityTooLarge, resp.Header, string(b))
	api.get("/v1/members", 200, nil)
	if rs := a.list(t, "db"); len(rs) != 0 {
		t.Errorf("huge body tracked db: %v", rs)
	}
}

// TestHTTPSlowloris: a client sending its header a line at a time is
// cut off after the header timeout, while others are answered.
func TestHTTPSlowloris(t *testing.T) {
	t.Parallel()
	p := freePort(t)
	_, api := startHTTPAgent(t, "node1", p, hostfileOf(t, p))
	c, err := net.Dial("tcp", strings.TrimPrefix(api.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	closed := make(chan time.Duration, 1)
	go func() {
		io.Copy(io.Discard, c) // returns when the server closes
		closed <- time.Since(start)
	}()
	fmt.Fprint(c, "GET /v1/members HTTP/1.1\r\nHost: 127.0.0.1\r\n")
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case took := <-closed:
			if took < httpHeaderTimeout-time.Second {
				t.Errorf("closed after %v, before the header timeout %v", took, httpHeaderTimeout)
			}
			t.Logf("slow header cut off after %v", took.Round(time.Millisecond))
			return
		case <-tick.C:
			fmt.Fprintf(c, "X-Slow-%d: 1\r\n", i)
			if i%5 == 0 {
				api.get("/v1/members", 200, nil)
			}
			if time.Since(start) > httpHeaderTimeout+5*time.Second {
				t.Fatalf("slow header still open after %v", time.Since(start))
			}
		}
	}
}

// TestHTTPStalledEventStreams: 2000 clients open event streams and never
// read. At most maxSSEClients are served (the others get 503), the
// goroutines and heap stay bounded, other requests are answered, and
// everything is released when the clients go.
func TestHTTPStalledEventStreams(t *testing.T) {
	// Not parallel: it counts the goroutines and heap of the process.
	p := freePort(t)
	_, api := startHTTPAgent(t, "node1", p, hostfileOf(t, p), "--track", "web")
	base, heap := settle()
	addr := strings.TrimPrefix(api.base, "http://")
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 2000 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("client %d: %v", len(conns), err)
		}
		conns = append(conns, c)
		fmt.Fprint(c, "GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	}
	waitFor(t, 60*time.Second, "event streams at their limit", func() bool {
		resp, err := streamClient.Get(api.base + "/v1/events")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close() // a stream (200) is not read
		if resp.StatusCode != http.StatusServiceUnavailable {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		api.checkError("stream over the limit", resp.StatusCode, 503, resp.Header, string(b))
		return resp.Header.Get("Retry-After") != ""
	})
	api.get("/v1/services/web", 200, nil)
	g, h := settle()
	t.Logf("2000 stalled streams: %d goroutines more, heap %d KB more", g-base, (int64(h)-int64(heap))>>10)
	// Two per stream: net/http's connection goroutine (the handler) and
	// its background read, which notices the client going away.
	if g-base > 2*maxSSEClients+64 {
		t.Errorf("%d goroutines more with 2000 stalled streams, want at most %d", g-base, 2*maxSSEClients+64)
	}
	if grown := int64(h) - int64(heap); grown > 64<<20 {
		t.Errorf("heap grew %d MB with 2000 stalled streams", grown>>20)
	}
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	waitFor(t, 30*time.Second, "goroutines released", func() bool {
		g, _ := settle()
		return g-base < 32
	})
}

// settle runs the GC and returns the goroutine count and heap in use.
func settle() (int, uint64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return runtime.NumGoroutine(), ms.HeapInuse
}

// hubHTTPServer serves the event streams of a hub of its own on
// loopback (no agent: the test publishes to the hub directly), with
// writes of 100 ms at most (tests set writeWait as they need).
func hubHTTPServer(t *testing.T) (*httpServer, string) {
	t.Helper()
	s := newHTTPServer(nil, newHub(), slog.New(slog.DiscardHandler), nil, http.NotFoundHandler(), http.NotFoundHandler())
	s.keepalive, s.writeWait = time.Hour, 100*time.Millisecond
	ln, err := listenHTTP(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	s.start(ln)
	t.Cleanup(s.shutdown)
	return s, "http://" + ln.Addr().String()
}

// joinDiff is a diff joining one entry of service on a remote node.
func joinDiff(service string, meta map[string]string) tracker.Diff {
	return tracker.Diff{Service: service, Joins: []tracker.Presence{{Service: service, Key: "k", Node: "n@192.0.2.1",
		Addr: netip.MustParseAddrPort("192.0.2.1:7946"), Meta: meta}}}
}

// tcpAddr returns the TCP address of base (http://ADDR).
func tcpAddr(t *testing.T, base string) *net.TCPAddr {
	t.Helper()
	ap, err := netip.ParseAddrPort(strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	return net.TCPAddrFromAddrPort(ap)
}

// TestSSEQueueBounded: the queue of an event stream never holds more
// than its max; beyond, it overflows for good and releases what it held.
func TestSSEQueueBounded(t *testing.T) {
	q := &sseQueue{max: 10, wake: make(chan struct{}, 1)}
	for i := range 10 {
		q.handle(record{Node: fmt.Sprint(i)})
	}
	if rs, over := q.take(); len(rs) != 10 || over {
		t.Fatalf("take after 10 = %d records, over %v", len(rs), over)
	}
	for i := range 10_000 {
		q.handle(record{Node: fmt.Sprint(i)})
		if len(q.recs) > q.max {
			t.Fatalf("queue holds %d records, max %d", len(q.recs), q.max)
		}
	}
	if rs, over := q.take(); rs != nil || !over {
		t.Errorf("take after overflow = %d records, over %v; want none, true", len(rs), over)
	}
	select {
	case <-q.wake:
	default:
		t.Error("no wake-up pending")
	}
}

// TestHTTPSlowStreamDropped: a stream whose client stops reading is
// dropped (and counted) while the hub goes on publishing at full speed
// and a reading stream gets every event.
func TestHTTPSlowStreamDropped(t *testing.T) {
	t.Parallel()
	s, base := hubHTTPServer(t)
	s.writeWait = time.Second // the reading stream keeps up even on a loaded machine
	stalled, err := net.DialTCP("tcp", nil, tcpAddr(t, base))
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	stalled.SetReadBuffer(4096)
	fmt.Fprint(stalled, "GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	api := apiClient{t: t, base: base, c: http.DefaultClient}
	reader := api.openEvents("")
	waitFor(t, 5*time.Second, "two streams registered", func() bool { return len(s.streams) == 2 })

	meta := map[string]string{"pad": strings.Repeat("x", 400)}
	const n = 20000
	for i := range n {
		s.hub.applyDiff(joinDiff(fmt.Sprintf("svc%d", i), meta))
		if i%100 == 99 { // let the reading stream keep up
			reader.next(t, "event "+fmt.Sprint(i), func(r record) bool { return r.Service == fmt.Sprintf("svc%d", i) })
		}
	}
	waitFor(t, 10*time.Second, "the stalled stream dropped", func() bool { return s.dropped.Load() == 1 })
	waitFor(t, 10*time.Second, "its slot released", func() bool { return len(s.streams) == 1 })
}

// TestHTTPShutdownEndsStreams: stopping the agent ends its open event
// streams and closes the listener, and the agent exits 0 promptly.
func TestHTTPShutdownEndsStreams(t *testing.T) {
	t.Parallel()
	p := freePort(t)
	a, api := startHTTPAgent(t, "node1", p, hostfileOf(t, p), "--track", "web")
	s := api.openEvents("")
	s.next(t, "replayed join", func(r record) bool { return r.Event == evJoin })
	start := time.Now()
	if code := a.stop(t); code != 0 {
		t.Fatalf("exit %d: %s", code, a.stderr)
	}
	if took := time.Since(start); took > shutdownTimeout+httpShutdownTimeout+time.Second {
		t.Errorf("agent with an open event stream took %v to stop", took)
	}
	select {
	case _, ok := <-s.events:
		if ok {
			t.Error("event after the stop")
		}
	case <-time.After(5 * time.Second):
		t.Error("event stream still open after the agent stopped")
	}
	if c, err := net.Dial("tcp", strings.TrimPrefix(api.base, "http://")); err == nil {
		c.Close()
		t.Error("HTTP port still accepts after the agent stopped")
	}
}

// TestHTTPAddressInUse: an --http address already taken stops the agent
// with one line naming it and the fix.
func TestHTTPAddressInUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p := freePort(t)
	code, _, errs := runCLI(t.Context(), "--name", "n1", "--bind", fmt.Sprintf("127.0.0.1:%d", p), "--no-discover",
		"--hostfile", filepath.Join(t.TempDir(), "none"), "--socket", filepath.Join(t.TempDir(), "s.sock"),
		"--http", ln.Addr().String())
	if code != cliutil.ExitFailure || !strings.Contains(errs, ln.Addr().String()) || !strings.Contains(errs, "choose another") ||
		strings.Count(strings.TrimSpace(errs), "\n") != 0 {
		t.Errorf("--http on a taken port: exit %d, stderr %q", code, errs)
	}
}

// TestHTTPStreamMemory: an open event stream that replayed 1000 entries
// keeps no buffer of their size: 50 streams hold under 128 KB of heap
// each, client and server sides together, once the replay is written
// (about 60 KB; 250 KB when the stream kept its write buffer).
func TestHTTPStreamMemory(t *testing.T) {
	// Not parallel: it counts the goroutines and heap of the process.
	s, base := hubHTTPServer(t)
	s.writeWait = 10 * time.Second
	meta := map[string]string{"port": "8080", "load": "1"}
	for i := range 1000 {
		s.hub.applyDiff(joinDiff(fmt.Sprintf("svc%d", i), meta))
	}
	_, heap := settle()
	api := apiClient{t: t, base: base}
	const n = 50
	for range n {
		es := api.openEvents("")
		for range 1000 {
			es.next(t, "replayed join", func(r record) bool { return r.Event == evJoin })
		}
	}
	_, after := settle()
	per := (int64(after) - int64(heap)) / n
	t.Logf("heap per open stream after a 1000-entry replay: %d KB", per>>10)
	if per > 128<<10 {
		t.Errorf("each open stream holds %d KB of heap after its replay, want under 128 KB", per>>10)
	}
}

// FuzzTrackRequest: any name and body of PUT /v1/track/NAME is refused
// or accepted without panicking, and what the HTTP API accepts the
// control socket accepts as the same entry: both front-ends validate
// alike.
func FuzzTrackRequest(f *testing.F) {
	f.Add("db", []byte(`{"meta":{"port":"5432"},"checks":["tcp://127.0.0.1:5432"],"interval_ms":1000,"timeout_ms":500}`))
	f.Add("web", []byte(``))
	f.Add("a\nb", []byte(`{}`))
	f.Add("db", []byte(`{"meta":{"k":"\u001b[2J"}}`))
	f.Add("db", []byte(`{"checks":["exec:true"],"interval_ms":-1}`))
	f.Add("db", []byte(`{"meta":null} {"meta":{}}`))
	f.Fuzz(func(t *testing.T, name string, body []byte) {
		req, err := trackRequest(name, body)
		if err != nil {
			if cliutil.Code(err) != cliutil.ExitUsage || strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("trackRequest(%q, %q): error %q (code %d), want one usage line", name, body, err, cliutil.Code(err))
			}
			return
		}
		line, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodeRequest(line)
		if err != nil {
			t.Fatalf("HTTP accepted %q %q; the control socket refuses %s: %v", name, body, line, err)
		}
		if len(back.specs) != 1 || back.specs[0].service != name || !sameChecks(back.specs[0], req.specs[0]) {
			t.Fatalf("control socket's entry %+v, HTTP's %+v", back.specs, req.specs)
		}
	})
}

// TestHTTPEscapesNetworkNames: names and meta from the network with
// control characters reach an event stream escaped (no raw C0, C1 or
// DEL byte on the wire) and decode back to what was sent.
func TestHTTPEscapesNetworkNames(t *testing.T) {
	t.Parallel()
	s, base := hubHTTPServer(t)
	s.writeWait = 10 * time.Second
	name := "web\x1b[2J\u009b\u2028\x7f\nx"
	meta := map[string]string{"k\r": "v\u0085\x00"}
	s.hub.applyDiff(joinDiff(name, meta))
	resp, err := streamClient.Get(base + "/v1/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range strings.TrimSuffix(line, "\n") {
		if r < 0x20 || r >= 0x7f && r <= 0x9f || r == 0x2028 {
			t.Errorf("raw %U on the wire: %q", r, line)
		}
	}
	var got record
	if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &got); err != nil {
		t.Fatalf("%q: %v", line, err)
	}
	if got.Service != name || got.Meta["k\r"] != "v\u0085\x00" {
		t.Errorf("decoded %q %q, want %q %q", got.Service, got.Meta, name, meta)
	}
}

// TestBinaryHTTPTokenReload: SIGHUP re-reads --http-token-file: the new
// token works and the old one no longer does; a token file that is now
// refused keeps the token in use, with a warning.
func TestBinaryHTTPTokenReload(t *testing.T) {
	t.Parallel()
	tf := filepath.Join(t.TempDir(), "token")
	oldTok, newTok := "old-token-0123456789", "new-token-9876543210"
	writeFile(t, tf, oldTok)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	a := startBinAgent(t, nil, "--hostfile", filepath.Join(t.TempDir(), "none"), "--http", addr, "--http-token-file", tf)
	api := apiClient{t: t, base: "http://" + addr, c: &http.Client{Timeout: 10 * time.Second}}
	put := func(tok string) int {
		code, _, _ := api.do("PUT", "/v1/track/db", "", "Authorization", "Bearer "+tok)
		return code
	}
	api.waitUp("the agent") // started without waiting for it
	waitFor(t, 5*time.Second, "the old token accepted", func() bool { return put(oldTok) == 200 })
	writeFile(t, tf, newTok)
	a.signal(t, syscall.SIGHUP)
	waitFor(t, 5*time.Second, "the new token accepted after SIGHUP", func() bool { return put(newTok) == 200 })
	if code := put(oldTok); code != 401 {
		t.Errorf("old token after SIGHUP: %d, want 401", code)
	}
	writeFile(t, tf, "short")
	a.signal(t, syscall.SIGHUP)
	waitFor(t, 5*time.Second, "a warning about the refused token file", func() bool {
		return strings.Contains(a.stderr.String(), "keeping the old HTTP token")
	})
	if code := put(newTok); code != 200 {
		t.Errorf("token after a refused reload: %d, want 200", code)
	}
}
