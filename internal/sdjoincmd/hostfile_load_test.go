package sdjoincmd

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// controlBound is the slowest a control request may be answered while
// the agent reads a long hostfile. The defects it catches (a quadratic
// parse, the peer dedup under the core's lock) held answers for tens of
// seconds; the margin is for -race on a loaded 2-core machine (1.01 s
// was seen there).
const controlBound = 2500 * time.Millisecond

// writeLongHostfile writes n distinct loopback peers (port 1: nobody
// listens, so joining them fails at once) to path, atomically; salt
// makes each version distinct.
func writeLongHostfile(t *testing.T, path string, n, salt int) {
	t.Helper()
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "127.%d.%d.%d:1\n", 10+salt+i/62500, i/250%250, i%250+1)
	}
	writeFile(t, path, b.String())
}

// slowestAnswer sends list requests to the control socket for d and
// returns the slowest answer's time.
func slowestAnswer(t *testing.T, sock string, d time.Duration) time.Duration {
	t.Helper()
	var worst time.Duration
	for end := time.Now().Add(d); time.Now().Before(end); {
		start := time.Now()
		if _, err := rawRequest(sock, `{"op":"list"}`, 30*time.Second); err != nil {
			t.Fatalf("list: %v", err)
		}
		worst = max(worst, time.Since(start))
	}
	return worst
}

// rawRequest sends one request line and returns the reply line.
func rawRequest(sock, line string, timeout time.Duration) (string, error) {
	c, err := net.Dial("unix", sock)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte(line + "\n")); err != nil {
		return "", err
	}
	buf := make([]byte, 64<<10)
	n, err := c.Read(buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// TestBinaryLongHostfileControlPrompt: with a 100,000-line hostfile, at
// start and while it is re-read after a change, the control socket
// answers within controlBound.
func TestBinaryLongHostfileControlPrompt(t *testing.T) {
	t.Parallel()
	hosts := filepath.Join(t.TempDir(), "hosts")
	writeLongHostfile(t, hosts, 100_000, 0)
	a := startBinAgent(t, nil, "--hostfile", hosts, "--hostfile-poll", "50ms", "--track", "svc")
	first := slowestAnswer(t, a.sock, 3*time.Second)
	writeLongHostfile(t, hosts, 100_000, 5)
	after := slowestAnswer(t, a.sock, 3*time.Second)
	if first > controlBound || after > controlBound {
		t.Errorf("slowest control answer with a 100k-line hostfile: %v at start, %v after a change; want under %v", first, after, controlBound)
	}
	t.Logf("slowest control answer with a 100k-line hostfile: %v at start, %v after a change", first.Round(time.Millisecond), after.Round(time.Millisecond))
	if _, err := os.Stat(hosts); err != nil {
		t.Fatal(err)
	}
}
