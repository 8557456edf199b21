//go:build linux

package discover

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// heard collects what an Agent's Found reports.
type heard struct {
	mu    sync.Mutex
	peers map[string]Peer
	gone  map[string]bool
}

func (h *heard) found(p Peer) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if p.Gone {
		h.gone[p.Instance] = true
		return
	}
	h.peers[p.Instance] = p
}

func (h *heard) get(inst string) (Peer, bool, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p, ok := h.peers[inst]
	return p, ok, h.gone[inst]
}

// startLabAgent starts an Agent in host h's namespace on eth0.
func startLabAgent(t *testing.T, h *lab.Host, name, cluster string) (*Agent, *heard) {
	t.Helper()
	rec := &heard{peers: map[string]Peer{}, gone: map[string]bool{}}
	var a *Agent
	err := h.Do(func() error {
		ifi, err := InterfaceOf(h.Addr)
		if err != nil {
			return err
		}
		a, err = Start(ifi, &Config{Instance: name, Addr: netip.AddrPortFrom(h.Addr, 7946), Cluster: cluster, Found: rec.found})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a, rec
}

// TestLabAgentFindsAndSaysGoodbye: two agents of one cluster hear each
// other with their addresses, a third of another cluster hears neither,
// and Close sends a goodbye the other hears at once.
func TestLabAgentFindsAndSaysGoodbye(t *testing.T) {
	t.Parallel()
	l := lab.New(t, lab.Config{Hosts: 3})
	a, _ := startLabAgent(t, l.Hosts[0], "a", "test")
	_, recB := startLabAgent(t, l.Hosts[1], "b", "test")
	_, recC := startLabAgent(t, l.Hosts[2], "c", "other")
	lab.Eventually(t, 5*time.Second, "b hearing a", func() error {
		p, ok, _ := recB.get("a")
		if want := netip.AddrPortFrom(l.Hosts[0].Addr, 7946); !ok || p.Addr != want {
			return fmt.Errorf("heard %v, want a at %v", p, want)
		}
		return nil
	})
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	lab.Eventually(t, time.Second, "b hearing a's goodbye", func() error {
		if _, _, gone := recB.get("a"); !gone {
			return fmt.Errorf("no goodbye")
		}
		return nil
	})
	for _, inst := range []string{"a", "b"} {
		if _, ok, gone := recC.get(inst); ok || gone {
			t.Errorf("c of cluster other heard %s of cluster test", inst)
		}
	}
}

// TestInterfaceOfLoopback: discovery refuses loopback.
func TestInterfaceOfLoopback(t *testing.T) {
	if _, err := InterfaceOf(netip.MustParseAddr("127.0.0.1")); err == nil {
		t.Error("InterfaceOf(127.0.0.1) succeeded, want an error: discovery never runs on loopback")
	}
}
