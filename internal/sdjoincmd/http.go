package sdjoincmd

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/netutil"

	"github.com/ipfinder-go/ipfinder/internal/cliutil"
)

// Limits and timeouts of the HTTP API.
const (
	maxHTTPBody   = 64 << 10 // bytes of a request body
	maxHTTPHeader = 16 << 10 // bytes of a request's header
	maxSSEClients = 1024     // event streams at once; more get 503
	// maxHTTPConns bounds connections at once (more wait to be accepted):
	// every event stream, and room for requests beside them.
	maxHTTPConns = maxSSEClients + 256
	// sseBacklog is how many events an event stream may fall behind
	// (beyond the state replayed when it starts) before it is dropped.
	sseBacklog          = 256
	httpHeaderTimeout   = 5 * time.Second  // to read a request's header (slowloris)
	httpReadTimeout     = 10 * time.Second // to read a whole request
	httpWriteTimeout    = 10 * time.Second // to write a reply, or one write of an event stream
	httpIdleTimeout     = 60 * time.Second // of a kept-alive connection
	defaultSSEKeepalive = 15 * time.Second // between ": ping" comments of an event stream
	httpShutdownTimeout = 500 * time.Millisecond
)

// httpServer is the HTTP front-end (--http): the /v1 API, translated
// into the control server's answers and hub handlers as the control
// socket's requests are, and the /metrics and / pages.
type httpServer struct {
	ctl       *controlServer
	hub       *hub
	token     atomic.Pointer[[]byte] // SHA-256 of the --http-token-file token; nil: none
	keepalive time.Duration          // between ": ping" comments of an event stream
	writeWait time.Duration          // of one write of an event stream
	log       *slog.Logger
	srv       *http.Server
	stop      chan struct{} // closed at shutdown: event streams end
	streams   chan struct{} // a slot per open event stream
	dropped   atomic.Int64  // event streams dropped for falling behind
	// instrument wraps the handler of each route (metrics).
	instrument func(route string, h http.Handler) http.Handler
	wg         sync.WaitGroup
}

// newHTTPServer returns the agent's HTTP front-end answering with ctl.
func (a *agent) newHTTPServer(ctl *controlServer) *httpServer {
	s := newHTTPServer(ctl, a.hub, a.log, a.instrumentHTTP, a.metricsHandler(), a.webHandler())
	a.metrics.http.Store(s)
	s.setToken(a.opt.httpToken)
	if a.opt.httpKeepalive > 0 {
		s.keepalive = a.opt.httpKeepalive
	}
	return s
}

// newHTTPServer returns an HTTP front-end with the default limits and
// no token, serving metrics at /metrics and web at /.
func newHTTPServer(ctl *controlServer, h *hub, log *slog.Logger, instrument func(string, http.Handler) http.Handler, metrics, web http.Handler) *httpServer {
	if instrument == nil {
		instrument = func(_ string, h http.Handler) http.Handler { return h }
	}
	s := &httpServer{
		ctl: ctl, hub: h, keepalive: defaultSSEKeepalive, writeWait: httpWriteTimeout, log: log,
		stop: make(chan struct{}), streams: make(chan struct{}, maxSSEClients),
		instrument: instrument,
	}
	s.srv = &http.Server{
		Handler:           s.routes(metrics, web),
		ReadHeaderTimeout: httpHeaderTimeout,
		ReadTimeout:       httpReadTimeout,
		WriteTimeout:      httpWriteTimeout,
		IdleTimeout:       httpIdleTimeout,
		MaxHeaderBytes:    maxHTTPHeader,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	return s
}

// setToken sets the token requests must send to track and untrack (nil:
// none); its SHA-256 is kept, which theirs are compared with.
func (s *httpServer) setToken(tok []byte) {
	if tok == nil {
		s.token.Store(nil)
		return
	}
	sum := sha256.Sum256(tok)
	h := sum[:]
	s.token.Store(&h)
}

// routes returns the API's handler: unknown paths and methods get JSON
// errors too.
func (s *httpServer) routes(metrics, web http.Handler) http.Handler {
	mux := http.NewServeMux()
	// Each route is instrumented under its pattern, never the request's
	// path (which would make a time series per URL).
	handle := func(pattern string, h http.Handler) { mux.Handle(pattern, s.instrument(pattern, h)) }
	handle("GET /v1/services", http.HandlerFunc(s.services))
	handle("GET /v1/services/{name}", http.HandlerFunc(s.services))
	handle("GET /v1/members", http.HandlerFunc(s.members))
	handle("GET /v1/pick/{name}", http.HandlerFunc(s.pick))
	handle("GET /v1/events", http.HandlerFunc(s.events))
	handle("PUT /v1/track/{name}", s.guard(s.track))
	handle("DELETE /v1/track/{name}", s.guard(s.untrack))
	handle("GET /metrics", metrics)
	handle("GET /{$}", web)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern == "" {
			w = &errorWriter{ResponseWriter: w, r: r}
		}
		mux.ServeHTTP(w, r)
	})
}

// listenHTTP listens on --http's address, bounded to maxHTTPConns
// connections at once.
func listenHTTP(ap netip.AddrPort) (net.Listener, error) {
	ln, err := net.Listen("tcp", ap.String())
	if err != nil {
		return nil, fmt.Errorf("--http %s: %w: choose another address or port", ap, err)
	}
	return netutil.LimitListener(ln, maxHTTPConns), nil
}

// start serves ln until shutdown.
func (s *httpServer) start(ln net.Listener) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.log.Debug("http serve", "err", err)
		}
	}()
}

// shutdown ends the event streams, lets the requests in progress finish
// for up to httpShutdownTimeout, then closes every connection.
func (s *httpServer) shutdown() {
	close(s.stop)
	ctx, cancel := context.WithTimeout(context.Background(), httpShutdownTimeout)
	defer cancel()
	if s.srv.Shutdown(ctx) != nil {
		s.srv.Close()
	}
	s.wg.Wait()
}

// services answers GET /v1/services[/NAME]: the entries, this node's
// with their check state; with ?local=true this node's entries as list
// --local shows them, withdrawn ones included.
func (s *httpServer) services(w http.ResponseWriter, r *http.Request) {
	local, err := boolParam(r, "local")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	req := request{Op: opList, Service: r.PathValue("name")}
	if local {
		req.Op = opLocal
	}
	rep, ok := s.answer(w, req)
	if !ok {
		return
	}
	if !local {
		withCheckState(rep.Entries, s.ctl.answer(request{Op: opLocal, Service: req.Service}).Entries)
	}
	writeJSON(w, http.StatusOK, nonNil(rep.Entries))
}

// withCheckState copies the state and checks of this node's entries
// (local, as list --local gives them) into the matching entries.
func withCheckState(entries, local []record) {
	type id struct{ service, key string }
	state := make(map[id]record, len(local))
	for _, r := range local {
		state[id{r.Service, r.Key}] = r
	}
	for i, r := range entries {
		if l, ok := state[id{r.Service, r.Key}]; ok && r.Local {
			entries[i].State, entries[i].Checks = l.State, l.Checks
		}
	}
}

// members answers GET /v1/members.
func (s *httpServer) members(w http.ResponseWriter, r *http.Request) {
	if rep, ok := s.answer(w, request{Op: opMembers}); ok {
		writeJSON(w, http.StatusOK, nonNil(rep.Members))
	}
}

// pick answers GET /v1/pick/NAME?policy=POLICY with one entry.
func (s *httpServer) pick(w http.ResponseWriter, r *http.Request) {
	req := request{Op: opPick, Service: r.PathValue("name"), Policy: r.URL.Query().Get("policy")}
	if rep, ok := s.answer(w, req); ok && len(rep.Entries) == 1 {
		writeJSON(w, http.StatusOK, rep.Entries[0])
	}
}

// trackBody is the body of PUT /v1/track/NAME.
type trackBody struct {
	Meta       map[string]string `json:"meta"`
	Checks     []string          `json:"checks"`
	IntervalMS int64             `json:"interval_ms"`
	TimeoutMS  int64             `json:"timeout_ms"`
}

// trackRequest returns the control request of PUT /v1/track/NAME with
// body b (empty: no meta, no checks), checked as the control socket
// checks its own.
func trackRequest(name string, b []byte) (request, error) {
	var body trackBody
	if err := decodeBody(b, &body); err != nil {
		return request{}, err
	}
	req := request{Op: opTrack, Service: name, Meta: body.Meta,
		Checks: body.Checks, IntervalMS: body.IntervalMS, TimeoutMS: body.TimeoutMS}
	return req, checkRequest(&req)
}

// track answers PUT /v1/track/NAME: this node tracks NAME (again:
// replaces its meta and checks) and the reply is the entry as list
// --local shows it.
func (s *httpServer) track(w http.ResponseWriter, r *http.Request) {
	b, status, err := readBody(w, r)
	if err != nil {
		writeError(w, status, err.Error())
		return
	}
	req, err := trackRequest(r.PathValue("name"), b)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if _, ok := s.answer(w, req); !ok {
		return
	}
	for _, e := range s.ctl.answer(request{Op: opLocal, Service: req.Service}).Entries {
		if e.Key == trackKey {
			writeJSON(w, http.StatusOK, e)
			return
		}
	}
	writeError(w, http.StatusConflict, "untracked again meanwhile: "+req.Service)
}

// untrack answers DELETE /v1/track/NAME with 204, or 404 when this node
// does not track NAME.
func (s *httpServer) untrack(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.answer(w, request{Op: opUntrack, Service: r.PathValue("name")}); ok {
		w.WriteHeader(http.StatusNoContent)
	}
}

// answer checks req and runs it as the control socket does. On an error
// it writes it and returns false.
func (s *httpServer) answer(w http.ResponseWriter, req request) (reply, bool) {
	if err := checkRequest(&req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return reply{}, false
	}
	rep := s.ctl.answer(req)
	if rep.Error != "" {
		writeError(w, replyStatus(rep), rep.Error)
		return reply{}, false
	}
	return rep, true
}

// replyStatus is the HTTP status of an error reply.
func replyStatus(rep reply) int {
	switch {
	case rep.Code == cliutil.ExitNotFound:
		return http.StatusNotFound
	case rep.Code == cliutil.ExitUsage:
		return http.StatusBadRequest
	case rep.Error == errStopped.Error():
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// readBody reads a body of at most maxHTTPBody bytes, returning the
// HTTP status of its error with it.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, int, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxHTTPBody))
	if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("body over %d bytes", maxHTTPBody)
	}
	if err != nil {
		return nil, http.StatusBadRequest, fmt.Errorf("reading the body: %w", err)
	}
	return b, 0, nil
}

// decodeBody decodes one JSON value from b into v, refusing unknown
// fields; an empty body leaves v as is.
func decodeBody(b []byte, v any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return cliutil.Usagef("bad JSON body: %v", err)
	}
	if dec.More() {
		return cliutil.Usagef("bad JSON body: more than one value")
	}
	return nil
}

// boolParam returns the query parameter name as a boolean (absent:
// false).
func boolParam(r *http.Request, name string) (bool, error) {
	q := r.URL.Query()
	if !q.Has(name) {
		return false, nil
	}
	v, err := strconv.ParseBool(q.Get(name))
	if err != nil {
		return false, fmt.Errorf("bad ?%s=%s: want true or false", name, printable(q.Get(name)))
	}
	return v, nil
}

// nonNil returns rs, or an empty slice (JSON []) when it is nil.
func nonNil(rs []record) []record {
	if rs == nil {
		return []record{}
	}
	return rs
}

// httpError is the body of every error reply.
type httpError struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, httpError{Error: msg})
}

// writeJSON writes v as JSON with status, escaped as the control
// socket's replies (see escapeJSON).
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encoding the reply failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(escapeJSON(b), '\n'))
}

// errorWriter turns the mux's own plain-text errors (404, 405 with its
// Allow header) into JSON ones.
type errorWriter struct {
	http.ResponseWriter
	r     *http.Request
	wrote bool
}

func (e *errorWriter) WriteHeader(status int) {
	if e.wrote {
		return
	}
	e.wrote = true
	msg := fmt.Sprintf("no %s: the API is under /v1/ (see the README)", e.r.URL.Path)
	if allow := e.Header().Get("Allow"); allow != "" {
		msg = fmt.Sprintf("%s not allowed on %s: use %s", e.r.Method, e.r.URL.Path, allow)
	}
	e.Header().Del("X-Content-Type-Options")
	writeError(e.ResponseWriter, status, printable(msg))
}

func (e *errorWriter) Write(p []byte) (int, error) {
	if !e.wrote {
		e.WriteHeader(http.StatusNotFound)
	}
	return len(p), nil
}

// guard allows track and untrack: with a token, from whoever sends it
// (Authorization: Bearer TOKEN); without, only from loopback peers
// naming the server by address or as localhost (a DNS-rebound name in
// a browser on this machine is refused).
func (s *httpServer) guard(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if want := s.token.Load(); want != nil {
			if !tokenOK(r.Header.Get("Authorization"), *want) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="sdjoin"`)
				writeError(w, http.StatusUnauthorized, "track and untrack need the token of --http-token-file: send Authorization: Bearer TOKEN")
				return
			}
			next(w, r)
			return
		}
		if !loopbackPeer(r.RemoteAddr) {
			writeError(w, http.StatusForbidden, "track and untrack are allowed only from this machine (loopback): start the agent with --http-token-file to allow them with a token")
			return
		}
		if !addressHost(r.Host) {
			writeError(w, http.StatusForbidden, "track and untrack from loopback need the server named by address or localhost (Host "+strconv.Quote(r.Host)+"): use http://127.0.0.1:PORT")
			return
		}
		next(w, r)
	}
}

// tokenOK reports whether an Authorization header holds the token, in
// time independent of the token (hashes of equal length compared in
// constant time).
func tokenOK(auth string, want []byte) bool {
	scheme, tok, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return subtle.ConstantTimeCompare(sum[:], want) == 1
}

// loopbackPeer reports whether a request's RemoteAddr is a loopback
// address.
func loopbackPeer(remote string) bool {
	ap, err := netip.ParseAddrPort(remote)
	return err == nil && ap.Addr().Unmap().IsLoopback()
}

// addressHost reports whether a Host header names an IP address or
// localhost, with or without a port.
func addressHost(host string) bool {
	h, _, err := net.SplitHostPort(host)
	if err != nil {
		h = strings.Trim(host, "[]")
	}
	if strings.EqualFold(h, "localhost") {
		return true
	}
	_, err = netip.ParseAddr(h)
	return err == nil
}
