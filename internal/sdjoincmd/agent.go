package sdjoincmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/cliutil"
	"github.com/ipfinder-go/ipfinder/internal/sdnotify"
)

// trackKey is the key of the agent's own entries (--track and the
// control socket's track): one entry per service and node.
const trackKey = "sdjoin"

// Defaults of the agent's timing knobs (hidden flags, so tests can shorten
// them).
const (
	defaultRetryInterval = 30 * time.Second
	defaultHostfilePoll  = 2 * time.Second
	leaveTimeout         = time.Second
	// shutdownTimeout bounds leaving at exit; what has not finished by
	// then (a leave or join stuck on a dead peer) is abandoned.
	shutdownTimeout = leaveTimeout + 500*time.Millisecond
	// flushTimeout bounds writing the last queued output at exit (stdout
	// may be a pipe nobody reads).
	flushTimeout = 250 * time.Millisecond
)

// agentOptions are the validated flags of the agent.
type agentOptions struct {
	name      string         // NAME of NAME@IP
	bind      netip.AddrPort // gossip bind address
	advertise netip.Addr     // zero: the bind address, or chosen when unspecified
	tracks    []trackSpec
	hostfiles []string // candidates; the first that exists is read
	socket    string
	socketDir socketDir // how the socket's directory is checked
	key       []byte
	keyFile   string // re-read on SIGHUP
	label     string
	json      bool
	verbose   bool
	retry     time.Duration
	poll      time.Duration
	// rename follows the address as it changes (see follow.go): on when
	// the address was not fixed (no --advertise, unspecified --bind) and
	// --no-rename was not given.
	rename         bool
	discover       bool          // announce and browse over mDNS (not --no-discover)
	publish        bool          // publish services over DNS-SD (not --no-publish)
	renameDebounce time.Duration // rename.Config.Debounce; 0 is its default
	renameGrace    time.Duration // rename.Config.Grace; 0 is its default
	dns            dnsOptions    // the DNS interface; off without --dns
	// The HTTP API (--http): off when http is not valid.
	http          netip.AddrPort
	httpToken     []byte        // from --http-token-file; nil: none
	httpTokenFile string        // re-read on SIGHUP
	httpKeepalive time.Duration // between SSE pings; 0: the default
}

// agent is a running sdjoin agent: the core (tracker, identity, entries,
// peers), the hub its events go through, and the front-ends wired to them
// (the stdout printer, the control socket, SIGHUP).
type agent struct {
	*core
	hub     *hub
	metrics *agentMetrics
	stdout  io.Writer
	errw    *asyncWriter // diagnostics; never blocks
	// httpSrv is the HTTP front-end (--http), nil without it; set by run
	// before it serves (its dropped counts the event streams dropped).
	httpSrv *httpServer
}

func newAgent(opt *agentOptions, stdout, stderr io.Writer) *agent {
	errw := newAsyncWriter(stderr, 1024, func(n int64) {
		fmt.Fprintf(stderr, "sdjoin: warning: stderr is not being read fast enough: %d messages dropped\n", n)
	})
	a := &agent{hub: newHub(), stdout: stdout, errw: errw}
	log := slog.New(slog.DiscardHandler)
	if opt.verbose {
		log = slog.New(cliutil.NewLogHandler(errw, "sdjoin", slog.LevelDebug))
	}
	a.core = newCore(opt, a.hub, a.warnf, log)
	a.metrics = newAgentMetrics(a.core, a.hub)
	return a
}

// warnf prints one diagnostic line on stderr, with any control or
// non-printable character in it escaped (it may quote a hostfile line or
// a name from the network).
func (a *agent) warnf(format string, args ...any) {
	fmt.Fprintf(a.errw, "sdjoin: %s\n", printable(fmt.Sprintf(format, args...)))
}

// run runs the agent until ctx is done, then leaves the cluster. Leaving
// is bounded by shutdownTimeout, writing the last output by flushTimeout.
func (a *agent) run(ctx context.Context) error {
	defer a.errw.Close(flushTimeout)
	defer a.core.checks.Close() // started with the core; idempotent
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	ln, err := listenControl(a.opt.socket, a.opt.socketDir)
	if err != nil {
		return err
	}
	defer ln.Close()
	dnsSrv, err := a.startDNS()
	if err != nil {
		return err
	}
	if dnsSrv != nil {
		defer dnsSrv.Close()
	}
	var httpLn net.Listener
	if a.opt.http.IsValid() {
		if httpLn, err = listenHTTP(a.opt.http); err != nil {
			return err
		}
		defer httpLn.Close()
	}
	out := newAsyncWriter(a.stdout, 4096, func(n int64) {
		a.hub.dropped(n)
		a.warnf("warning: stdout is not being read: %d events dropped", n)
	})
	defer out.Close(flushTimeout)
	a.hub.register("", func(int) handler { return &printer{w: out, json: a.opt.json} })
	if err := a.core.start(ctx); err != nil {
		return err
	}
	srvCtx, stopSrv := context.WithCancel(ctx)
	srv := &controlServer{core: a.core, hub: a.hub, warn: a.warnf, log: a.log,
		count: a.metrics.countControl}
	srv.wg.Add(1)
	go srv.serve(srvCtx, ln)
	var hs *httpServer
	if httpLn != nil {
		hs = a.newHTTPServer(srv)
		a.httpSrv = hs
		hs.start(httpLn)
	}
	a.announce(a.opt.socket)
	a.announceHTTP(httpLn)
	a.core.run(ctx)
	joined := a.core.joined
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-hup:
			a.core.reload()
			a.reloadToken()
		case <-joined:
			joined = nil
			a.notify("READY=1") // the socket answers, the first join is done
		}
	}
	a.notify("STOPPING=1")
	stopSrv()
	ln.Close()
	if hs != nil {
		hs.shutdown()
	}
	return a.shutdown(srv)
}

// notify tells systemd the agent's state when it runs as a Type=notify
// service (see package sdnotify).
func (a *agent) notify(state string) {
	if _, err := sdnotify.Notify(state); err != nil {
		a.warnf("warning: %v", err)
	}
}

// shutdown stops the control server and the core (which leaves the
// cluster), for at most shutdownTimeout: a leave or join stuck on dead
// peers must not keep the process from exiting.
func (a *agent) shutdown(srv *controlServer) error {
	done := make(chan error, 1)
	go func() {
		err := a.core.close()
		srv.wg.Wait()
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(shutdownTimeout):
		a.warnf("warning: leaving the cluster took over %s: exiting anyway", shutdownTimeout)
		return nil
	}
}

// isClosedConn reports errors from using a closed connection.
func isClosedConn(err error) bool { return errors.Is(err, net.ErrClosed) }

// announceHTTP prints where the HTTP API listens (ln nil: off), and
// warns when it is reachable from the network without a token.
func (a *agent) announceHTTP(ln net.Listener) {
	if ln == nil {
		return
	}
	a.warnf("HTTP API on http://%s/", ln.Addr())
	if !a.opt.http.Addr().IsLoopback() && a.opt.httpToken == nil {
		a.warnf("warning: HTTP API on %s answers anyone who can reach it (track and untrack only from this machine; use a loopback --http or --http-token-file)", a.opt.http)
	}
}

// reloadToken re-reads --http-token-file (on SIGHUP); a file that is now
// refused keeps the old token.
func (a *agent) reloadToken() {
	if a.httpSrv == nil || a.opt.httpTokenFile == "" {
		return
	}
	tok, err := readTokenFile(a.opt.httpTokenFile)
	if err != nil {
		a.warnf("warning: SIGHUP: %v (keeping the old HTTP token)", err)
		return
	}
	a.httpSrv.setToken(tok)
	a.warnf("SIGHUP: re-read the HTTP token file")
}
