//go:build linux

package sdjoincmd

import (
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// TestLabHostfileNames: an agent whose hostfile lists peers by name only
// joins labhost1.local (published by avahi on host 1, resolved over mDNS)
// and peer2.lan (served by a lab DNS server, resolved through the system
// resolver); the two peers know nothing of each other, so each must be
// joined through its own name. nas.local and nosuch.lan do not resolve:
// each gets exactly one warning naming it, however many retries pass.
func TestLabHostfileNames(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("avahi-daemon"); err != nil {
		lab.SkipOrFail(t, "avahi-daemon not installed (Debian: apt install avahi-daemon)")
	}
	lab.NeedTools(t, "dnsmasq")
	l := lab.New(t, lab.Config{Hosts: 3})
	h := l.Hosts
	if err := h[1].StartAvahi("labhost1"); err != nil {
		t.Fatal(err)
	}
	if err := h[1].StartDNS(map[string]netip.Addr{"peer2.lan": h[2].Addr}); err != nil {
		t.Fatal(err)
	}
	if err := h[0].UseResolver(h[1].Addr); err != nil {
		t.Fatal(err)
	}
	none := filepath.Join(t.TempDir(), "none")
	p1 := startLabAgent(t, h[1], "p1", none)
	p2 := startLabAgent(t, h[2], "p2", none)
	hosts := filepath.Join(t.TempDir(), "hosts")
	writeFile(t, hosts, "nas.local\nlabhost1.local\nnosuch.lan\np2@peer2.lan\n")
	a := startLabAgent(t, h[0], "a", hosts, "--verbose")
	want := []string{a.node(h[0].Addr), p1.node(h[1].Addr), p2.node(h[2].Addr)}
	waitFor(t, 30*time.Second, "a listing both named peers", func() bool {
		got := a.list(t)
		return len(got) == len(want) && !slices.ContainsFunc(want, func(n string) bool { return !slices.Contains(got, n) })
	})
	// Retries go on for the names that do not resolve: let several pass.
	waitFor(t, 30*time.Second, "five more resolutions", func() bool {
		return strings.Count(a.stderr.String(), " resolved ") >= 8
	})
	out := a.stderr.String()
	for _, name := range []string{"nas.local", "nosuch.lan"} {
		if n := strings.Count(out, "hostfile name "+name+" does not resolve"); n != 1 {
			t.Errorf("%d warnings about %s, want 1:\n%s", n, name, out)
		}
	}
	for _, name := range []string{"labhost1.local", "peer2.lan"} {
		if strings.Contains(out, "hostfile name "+name+" ") {
			t.Errorf("warning about %s, which resolves:\n%s", name, out)
		}
	}
}

// deadNameHostfile writes a hostfile listing deadPeers host names, half
// of them .local, that a blackholed DNS server and silent mDNS leave
// unresolved, then the lines of extra.
func deadNameHostfile(t *testing.T, extra ...string) string {
	t.Helper()
	var lines []string
	for i := range deadPeers {
		if i%2 == 0 {
			lines = append(lines, fmt.Sprintf("dead%d.lan", i))
		} else {
			lines = append(lines, fmt.Sprintf("dead%d.local", i))
		}
	}
	return writeHostfile(t, append(lines, extra...))
}

// TestLabDeadNamesBounded: with deadPeers names that never resolve (their
// DNS server blackholed), a live peer listed by address is joined within
// reachBound of the start, and SIGTERM makes the agent exit 0 within
// shutdownBound.
func TestLabDeadNamesBounded(t *testing.T) {
	t.Parallel()
	l := blackholeLab(t)
	if err := l.Hosts[0].UseResolver(deadPrefix.Addr().Next()); err != nil {
		t.Fatal(err)
	}
	a, took := joinLive(t, l, deadNameHostfile(t, l.Hosts[1].Addr.String()))
	if took > reachBound {
		t.Errorf("live peer after %d dead names joined %v after start, want under %v", deadPeers, took, reachBound)
	}
	waitFor(t, 30*time.Second, "warnings about the dead names", func() bool {
		return strings.Count(a.stderr.String(), "does not resolve") == deadPeers
	})
	exited := sigtermExit(t, a)
	if exited > shutdownBound {
		t.Errorf("exited %v after SIGTERM with %d dead names, want under %v", exited, deadPeers, shutdownBound)
	}
	t.Logf("live peer joined after %v; exited %v after SIGTERM", took.Round(time.Millisecond), exited.Round(time.Millisecond))
}
