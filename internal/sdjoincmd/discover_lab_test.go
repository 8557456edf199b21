//go:build linux

package sdjoincmd

import (
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/discover"
	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// discoverBound is how soon after the last start agents with no
// hostfile must list each other (the issue asks for "a few seconds").
const discoverBound = 5 * time.Second

// withDiscovery turns discovery back on after fastKnobs.
const withDiscovery = "--no-discover=false"

// startDiscoveringAgents starts an agent with no hostfile and discovery
// on in each host, with the extra flags of each, and returns them with
// their node names and when the last one started.
func startDiscoveringAgents(t *testing.T, hosts []*lab.Host, extra func(i int) []string) ([]*labAgent, []string, time.Time) {
	t.Helper()
	none := filepath.Join(t.TempDir(), "none")
	var agents []*labAgent
	var nodes []string
	var last time.Time
	for i, h := range hosts {
		args := append([]string{withDiscovery}, extra(i)...)
		last = time.Now()
		a := startLabAgent(t, h, fmt.Sprintf("n%d", i+1), none, args...)
		agents = append(agents, a)
		nodes = append(nodes, a.node(h.Addr))
	}
	return agents, nodes, last
}

// TestLabDiscoveryNoHostfile: three agents with no hostfile list each
// other within discoverBound of the last one's start.
func TestLabDiscoveryNoHostfile(t *testing.T) {
	t.Parallel()
	l := lab.New(t, lab.Config{Hosts: 3})
	agents, all, last := startDiscoveringAgents(t, l.Hosts, func(int) []string { return nil })
	waitAll(t, agents, 30*time.Second, all...)
	if took := time.Since(last); took > discoverBound {
		t.Errorf("agents listed each other %v after the last start, want under %v", took, discoverBound)
	}
}

// TestLabDiscoveryClustersApart: two clusters with different labels on
// one link each find their own members and never join the other's.
func TestLabDiscoveryClustersApart(t *testing.T) {
	t.Parallel()
	l := lab.New(t, lab.Config{Hosts: 4})
	label := func(i int) []string { return []string{"--cluster", []string{"blue", "green"}[i%2]} }
	agents, nodes, _ := startDiscoveringAgents(t, l.Hosts, label)
	blue, green := []*labAgent{agents[0], agents[2]}, []*labAgent{agents[1], agents[3]}
	waitAll(t, blue, 30*time.Second, nodes[0], nodes[2])
	waitAll(t, green, 30*time.Second, nodes[1], nodes[3])
	// The agents announce again up to 3 s after they start: the clusters
	// must still be apart after that.
	deadline := time.Now().Add(4 * time.Second)
	for time.Now().Before(deadline) {
		for i, a := range agents {
			want := []string{nodes[i%2], nodes[i%2+2]}
			if got := a.list(t); !slices.Equal(got, want) {
				t.Fatalf("%s lists %v, want only its cluster %v", a.name, got, want)
			}
		}
	}
}

// TestLabDiscoveryBesideAvahi: with a real avahi-daemon on every host
// publishing its host name and a service on port 5353 too, the agents
// still find each other, and avahi keeps running beside them.
func TestLabDiscoveryBesideAvahi(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("avahi-daemon"); err != nil {
		lab.SkipOrFail(t, "avahi-daemon not installed (Debian: apt install avahi-daemon)")
	}
	l := lab.New(t, lab.Config{Hosts: 3})
	for i, h := range l.Hosts {
		if err := h.StartAvahi(fmt.Sprintf("host%d", i+1), lab.Service{Type: "_ssh._tcp", Port: 22}); err != nil {
			t.Fatal(err)
		}
	}
	agents, all, last := startDiscoveringAgents(t, l.Hosts, func(int) []string { return nil })
	waitAll(t, agents, 30*time.Second, all...)
	if took := time.Since(last); took > discoverBound {
		t.Errorf("beside avahi, agents listed each other %v after the last start, want under %v", took, discoverBound)
	}
	for _, h := range l.Hosts {
		lab.Shell(t, h, "pgrep -x avahi-daemon >/dev/null")
	}
}

// listener records what a discover.Agent of cluster "" hears in a lab
// host: the latest address of each instance, and the goodbyes.
type listener struct {
	mu    sync.Mutex
	addrs map[string]netip.AddrPort
	gone  map[string]bool
}

func (l *listener) found(p discover.Peer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if p.Gone {
		l.gone[p.Instance] = true
		return
	}
	l.addrs[p.Instance] = p.Addr
	delete(l.gone, p.Instance)
}

// heard reports whether inst was heard at addr (not gone), or, with an
// invalid addr, whether it said goodbye.
func (l *listener) heard(inst string, addr netip.AddrPort) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !addr.IsValid() {
		if !l.gone[inst] {
			return fmt.Errorf("no goodbye from %s", inst)
		}
		return nil
	}
	if got := l.addrs[inst]; got != addr || l.gone[inst] {
		return fmt.Errorf("%s heard at %v (gone %v), want %v", inst, got, l.gone[inst], addr)
	}
	return nil
}

// listen starts a discover.Agent in h that records what it hears.
func listen(t *testing.T, h *lab.Host) *listener {
	t.Helper()
	rec := &listener{addrs: map[string]netip.AddrPort{}, gone: map[string]bool{}}
	var d *discover.Agent
	err := h.Do(func() error {
		ifi, err := discover.InterfaceOf(h.Addr)
		if err != nil {
			return err
		}
		d, err = discover.Start(ifi, &discover.Config{Instance: "listener", Addr: netip.AddrPortFrom(h.Addr, 9), Found: rec.found})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return rec
}

// TestLabDiscoveryFollowsRename: after an address change the agent says
// goodbye under its old name and announces the new one; on SIGTERM it
// says goodbye and still exits within shutdownBound.
func TestLabDiscoveryFollowsRename(t *testing.T) {
	t.Parallel()
	lab.NeedTools(t, "ip")
	l := lab.New(t, lab.Config{Hosts: 2})
	rec := listen(t, l.Hosts[1])
	mover := startLabAgent(t, l.Hosts[0], "m", filepath.Join(t.TempDir(), "none"), withDiscovery)
	oldAddr, newAddr := mover.host.Addr, l.Addr(200)
	oldName, newName := mover.node(oldAddr), mover.node(newAddr)
	lab.Eventually(t, 5*time.Second, "the old name announced", func() error {
		return rec.heard(oldName, netip.AddrPortFrom(oldAddr, 7946))
	})
	lab.Shell(t, mover.host, "sysctl -qw net.ipv4.conf.eth0.promote_secondaries=1")
	bits := strconv.Itoa(l.Prefix.Bits())
	lab.Shell(t, mover.host, "ip addr add "+newAddr.String()+"/"+bits+" dev eth0 && ip addr del "+oldAddr.String()+"/"+bits+" dev eth0")
	lab.Eventually(t, renameBound+2*time.Second, "the new name announced", func() error {
		return rec.heard(newName, netip.AddrPortFrom(newAddr, 7946))
	})
	lab.Eventually(t, time.Second, "a goodbye for the old name", func() error { return rec.heard(oldName, netip.AddrPort{}) })

	if err := mover.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	select {
	case <-mover.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("agent still running 30 s after SIGTERM")
	}
	if took := time.Since(sent); took > shutdownBound {
		t.Errorf("exited %v after SIGTERM, want under %v", took, shutdownBound)
	}
	// The goodbye left before the exit; the listener reads it on its own
	// goroutine.
	lab.Eventually(t, time.Second, "a goodbye after SIGTERM", func() error { return rec.heard(newName, netip.AddrPort{}) })
}
