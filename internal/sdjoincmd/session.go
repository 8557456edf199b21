package sdjoincmd

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ipfinder-go/ipfinder/internal/cliutil"
	"github.com/ipfinder-go/ipfinder/internal/supervise"
)

// Backoff of a session reconnecting to an agent that went away.
const (
	minReconnectPause = 100 * time.Millisecond
	maxReconnectPause = time.Second
)

// session holds entries on the agent for as long as it is open (sdjoin
// run, track --hold): the agent untracks them when the connection
// closes. When the agent goes away (restarted, crashed) the session
// connects again, with backoff, and tracks them again.
type session struct {
	cl   client
	req  request
	warn func(format string, args ...any)
	stop context.CancelFunc
	done chan struct{} // closed when hold returned
}

// openSession tracks specs as a session of the agent cl talks to: its
// first connection must succeed (no agent, or a refused entry, is an
// error); later ones are retried.
func openSession(cl client, specs []trackSpec, warn func(string, ...any)) (*session, error) {
	req := request{Op: opSession}
	for _, ts := range specs {
		req.Entries = append(req.Entries, ts.wire())
	}
	conn, _, _, err := cl.send(req)
	if err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	s := &session{cl: cl, req: req, warn: warn, stop: stop, done: make(chan struct{})}
	go s.hold(ctx, conn)
	return s, nil
}

// close ends the session: its entries leave the cluster at once.
func (s *session) close() {
	s.stop()
	<-s.done
}

// hold keeps the session's connection open until ctx is done, connecting
// again whenever the agent closes it.
func (s *session) hold(ctx context.Context, conn net.Conn) {
	defer close(s.done)
	for conn != nil {
		waitClosed(ctx, conn)
		if ctx.Err() != nil {
			return
		}
		s.warn("warning: the agent at %s went away: reconnecting", s.cl.path)
		if conn = s.reconnect(ctx); conn != nil {
			s.warn("reconnected to the agent at %s: entries tracked again", s.cl.path)
		}
	}
}

// waitClosed returns when the peer closes conn or ctx is done, and
// closes it.
func waitClosed(ctx context.Context, conn net.Conn) {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	io.Copy(io.Discard, conn)
	stop()
	conn.Close()
}

// reconnect opens the session again, retrying with a pause growing from
// minReconnectPause to maxReconnectPause; nil when ctx is done first.
func (s *session) reconnect(ctx context.Context) net.Conn {
	pause := minReconnectPause
	var last string
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(pause):
		}
		conn, _, _, err := s.cl.send(s.req)
		if err == nil {
			return conn
		}
		if msg := err.Error(); msg != last && cliutil.Code(err) != cliutil.ExitFailure {
			s.warn("warning: %s: retrying", msg) // refused by a new agent: say why once
			last = msg
		}
		pause = min(2*pause, maxReconnectPause)
	}
}

// clientWarn returns a warn function writing "sdjoin: ..." lines on the
// command's stderr.
func clientWarn(c *cli.Context) func(string, ...any) {
	return func(format string, args ...any) {
		fmt.Fprintf(c.App.ErrWriter, "sdjoin: %s\n", printable(fmt.Sprintf(format, args...)))
	}
}

// runCommand is `sdjoin run`.
func runCommand() *cli.Command {
	tl := &trackList{}
	return &cli.Command{
		Name:      "run",
		Usage:     "track services for as long as CMD runs: run CMD, exit with its status",
		ArgsUsage: "--track NAME [--meta K=V]... [--check SPEC]... -- CMD [ARGS...]",
		Flags:     append(clientFlags(false), trackFlags(tl)...),
		Action:    func(c *cli.Context) error { return runAction(c, tl) },
	}
}

// runAction tracks the entries as a session, runs the command (passing
// on SIGINT, SIGTERM and SIGHUP: the command decides when to stop),
// closes the session when it exits and returns its status.
func runAction(c *cli.Context, tl *trackList) error {
	argv := c.Args().Slice()
	if len(tl.specs) == 0 {
		return cliutil.Usagef("run needs --track NAME: sdjoin run --track NAME -- CMD [ARGS...]")
	}
	if len(argv) == 0 {
		return cliutil.Usagef("run needs a command: sdjoin run --track NAME -- CMD [ARGS...]")
	}
	for _, ts := range tl.specs {
		if err := ts.validate(); err != nil {
			return err
		}
	}
	cl, err := clientFor(c)
	if err != nil {
		return err
	}
	s, err := openSession(cl, tl.specs, clientWarn(c))
	if err != nil {
		return err
	}
	// Not c.Context: a signal is the command's to handle (supervise
	// forwards it), and run ends when the command does.
	status, err := supervise.Run(context.WithoutCancel(c.Context), argv)
	s.close()
	return cliutil.Status(status, err)
}
