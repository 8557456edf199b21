//go:build linux

package sdjoincmd

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// Bounds of the dead-peer lab tests.
const (
	// deadPeers is how many unreachable peers the hostfile lists.
	deadPeers = 1000
	// reachBound is how soon a live peer listed after them is joined.
	reachBound = 2 * time.Second
)

// deadPrefix holds the unreachable peers (RFC 2544's benchmarking range).
var deadPrefix = netip.MustParsePrefix("198.18.0.0/16")

// blackholeLab is a two-host lab in which host 0 routes deadPrefix to
// host 1, which does not forward: connections to those addresses hang
// until they time out, as to firewalled hosts.
func blackholeLab(t *testing.T) *lab.Lab {
	t.Helper()
	l := lab.New(t, lab.Config{Hosts: 2})
	lab.Shell(t, l.Hosts[1], "sysctl -qw net.ipv4.ip_forward=0")
	lab.Shell(t, l.Hosts[0], fmt.Sprintf("ip route add %s via %s", deadPrefix, l.Hosts[1].Addr))
	return l
}

// deadHostfile writes a hostfile listing deadPeers addresses of
// deadPrefix, then the lines of extra.
func deadHostfile(t *testing.T, extra ...string) string {
	t.Helper()
	var lines []string
	a := deadPrefix.Addr()
	for range deadPeers {
		a = a.Next()
		lines = append(lines, a.String())
	}
	return writeHostfile(t, append(lines, extra...))
}

// writeHostfile writes lines to a hostfile in a temporary directory and
// returns its path.
func writeHostfile(t *testing.T, lines []string) string {
	t.Helper()
	var b strings.Builder
	for _, line := range lines {
		fmt.Fprintln(&b, line)
	}
	path := filepath.Join(t.TempDir(), "hosts")
	writeFile(t, path, b.String())
	return path
}

// joinLive starts agent "live" on host 1 of l, then agent "a" on host 0
// with hostfile hosts, waits until a lists the live agent, and returns a
// and how long after a's start that took.
func joinLive(t *testing.T, l *lab.Lab, hosts string) (*labAgent, time.Duration) {
	t.Helper()
	live := startLabAgent(t, l.Hosts[1], "live", filepath.Join(t.TempDir(), "none"))
	start := time.Now()
	a := startLabAgent(t, l.Hosts[0], "a", hosts)
	want := live.node(l.Hosts[1].Addr)
	var took time.Duration
	waitFor(t, 90*time.Second, "a listing the live peer", func() bool {
		took = time.Since(start)
		return slices.Contains(a.list(t), want)
	})
	return a, took
}

// sigtermExit sends a SIGTERM, fails the test unless a exits within 90 s
// with code 0, and returns how long a took to exit.
func sigtermExit(t *testing.T, a *labAgent) time.Duration {
	t.Helper()
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	select {
	case <-a.exited:
	case <-time.After(90 * time.Second):
		t.Fatal("agent still running 90 s after SIGTERM")
	}
	took := time.Since(sent)
	if code := a.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	return took
}

// TestLabJoinAfterDeadPeers: a live peer listed after 1000 unreachable
// ones is joined within reachBound of the agent's start.
func TestLabJoinAfterDeadPeers(t *testing.T) {
	t.Parallel()
	l := blackholeLab(t)
	_, took := joinLive(t, l, deadHostfile(t, l.Hosts[1].Addr.String()))
	if took > reachBound {
		t.Errorf("live peer after %d unreachable ones joined %v after start, want under %v", deadPeers, took, reachBound)
	}
	t.Logf("live peer after %d unreachable ones joined %v after start", deadPeers, took.Round(time.Millisecond))
}

// TestLabShutdownDeadPeers: with 1000 unreachable peers being joined,
// SIGTERM makes the agent exit 0 within shutdownBound.
func TestLabShutdownDeadPeers(t *testing.T) {
	t.Parallel()
	l := blackholeLab(t)
	a := startLabAgent(t, l.Hosts[0], "a", deadHostfile(t))
	waitFor(t, 5*time.Second, "the agent starting to join", func() bool {
		return strings.Contains(a.stderr.String(), "gossiping on")
	})
	took := sigtermExit(t, a)
	if took > shutdownBound {
		t.Errorf("exited %v after SIGTERM with %d unreachable peers, want under %v", took, deadPeers, shutdownBound)
	}
	t.Logf("exited %v after SIGTERM with %d unreachable peers", took.Round(time.Millisecond), deadPeers)
}
