package sdjoincmd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ipfinder-go/ipfinder/internal/cliutil"
	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// fastKnobs shorten the agent's timers for tests and turn discovery off
// (tests on loopback must not multicast; discovery tests turn it back on
// with --no-discover=false).
var fastKnobs = []string{"--retry-interval", "150ms", "--hostfile-poll", "50ms", "--no-discover"}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) lines() []string {
	return strings.Split(strings.TrimRight(s.String(), "\n"), "\n")
}

// freePort returns a loopback port free for both TCP and UDP, reserved
// for this test (see lab.FreePort).
func freePort(t *testing.T) int { return lab.FreePort(t) }

// writeFile writes content to a new file in dir, replacing it atomically.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds or the deadline passes (lab.Eventually).
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	lab.Eventually(t, timeout, what, func() error {
		if cond() {
			return nil
		}
		return errNotYet
	})
}

var errNotYet = errors.New("not yet")

// answering reports whether an agent answers a request on the control
// socket path. A socket that accepts connections is not enough: it
// listens before the agent starts its tracker and serves it.
func answering(path string) bool {
	c, err := net.Dial("unix", path)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte(`{"op":"members"}` + "\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "{")
}

// testAgent is an agent run in-process through App.
type testAgent struct {
	name   string
	port   int
	sock   string
	stdout *syncBuffer
	stderr *syncBuffer
	cancel context.CancelFunc
	done   chan int
}

// startAgent runs `sdjoin --name NAME --bind 127.0.0.1:PORT --socket ...
// --hostfile HOSTFILE args...` until the test ends or stop is called, and
// waits for its control socket.
func startAgent(t *testing.T, name string, port int, hostfile string, args ...string) *testAgent {
	t.Helper()
	a := &testAgent{
		name: name, port: port,
		sock:   filepath.Join(t.TempDir(), name+".sock"),
		stdout: &syncBuffer{}, stderr: &syncBuffer{},
		done: make(chan int, 1),
	}
	argv := []string{"sdjoin", "--name", name, "--bind", fmt.Sprintf("127.0.0.1:%d", port),
		"--socket", a.sock, "--hostfile", hostfile}
	argv = append(append(argv, fastKnobs...), args...)
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	go func() { a.done <- runApp(ctx, a.stdout, a.stderr, argv) }()
	t.Cleanup(func() { a.stop(t) })
	waitFor(t, 5*time.Second, name+" control socket", func() bool {
		select {
		case code := <-a.done:
			a.done <- code
			t.Fatalf("%s exited with %d: %s", name, code, a.stderr)
		default:
		}
		return answering(a.sock)
	})
	return a
}

// node returns the agent's node name.
func (a *testAgent) node() string { return a.name + "@127.0.0.1" }

// stop cancels the agent and returns its exit code.
func (a *testAgent) stop(t *testing.T) int {
	t.Helper()
	a.cancel()
	select {
	case code := <-a.done:
		a.done <- code
		return code
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not stop", a.name)
		return -1
	}
}

// run runs a client command against the agent and returns its exit code,
// stdout and stderr.
func (a *testAgent) run(args ...string) (int, string, string) {
	return runCLI(context.Background(), append(args, "--socket", a.sock)...)
}

// runCLI runs sdjoin with args in-process.
func runCLI(ctx context.Context, args ...string) (int, string, string) {
	var stdout, stderr syncBuffer
	code := runApp(ctx, &stdout, &stderr, append([]string{"sdjoin"}, args...))
	return code, stdout.String(), stderr.String()
}

// cliMu serializes flag parsing: urfave/cli v2 writes to its global
// HelpFlag while parsing (BoolFlag.Apply), a data race when several apps
// parse at once in one process. A real process runs one app.
var cliMu sync.Mutex

// runApp runs App through cliutil.Run, holding cliMu until the flags
// are parsed (the Before hooks run after parsing).
func runApp(ctx context.Context, stdout, stderr io.Writer, argv []string) int {
	app := App(stdout, stderr)
	var once sync.Once
	unlock := func(*cli.Context) error { once.Do(cliMu.Unlock); return nil }
	cliMu.Lock()
	defer unlock(nil)
	app.Before = func(c *cli.Context) error {
		if c.NArg() == 0 || app.Command(c.Args().First()) == nil {
			return unlock(c)
		}
		return nil
	}
	for _, cmd := range app.Commands {
		cmd.Before = unlock
	}
	return cliutil.Run(ctx, app, argv)
}

// list returns the agent's entries of service as decoded JSON lines.
func (a *testAgent) list(t *testing.T, service string) []record {
	t.Helper()
	code, out, errs := a.run("list", service, "--json")
	if code == cliutil.ExitNotFound {
		return nil
	}
	if code != 0 {
		t.Fatalf("list %s on %s: exit %d: %s", service, a.name, code, errs)
	}
	return decodeLines(t, out)
}

func decodeLines(t *testing.T, out string) []record {
	t.Helper()
	var rs []record
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var r record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %q is not JSON: %v", line, err)
		}
		rs = append(rs, r)
	}
	return rs
}

// nodes returns the node names of rs.
func nodes(rs []record) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Node)
	}
	return out
}

// hasLine reports whether out has a line equal to want.
func hasLine(out, want string) bool {
	for _, l := range strings.Split(out, "\n") {
		if l == want {
			return true
		}
	}
	return false
}

// hostfileOf writes a plain hostfile listing the ports on 127.0.0.1.
func hostfileOf(t *testing.T, ports ...int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hosts")
	var b strings.Builder
	for _, p := range ports {
		fmt.Fprintf(&b, "127.0.0.1:%d\n", p)
	}
	writeFile(t, path, b.String())
	return path
}
