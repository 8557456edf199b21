package sdjoincmd

import (
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"testing"

	"github.com/ipfinder-go/ipfinder/internal/discover"
)

func newTestCore(t *testing.T) *core {
	t.Helper()
	c := newCore(&agentOptions{}, newHub(), func(string, ...any) {}, slog.New(slog.DiscardHandler))
	c.bind = netip.MustParseAddrPort("192.0.2.1:7946")
	c.adv = c.bind
	c.discovered = map[string]string{}
	return c
}

// TestFoundBoundsAndSelf: discovery keeps at most maxDiscovered peers,
// never this agent's own address, and forgets a peer that says goodbye.
func TestFoundBoundsAndSelf(t *testing.T) {
	c := newTestCore(t)
	c.found(discover.Peer{Instance: "self", Addr: c.adv})
	if len(c.discovered) != 0 {
		t.Fatalf("own address kept: %v", c.discovered)
	}
	for i := range maxDiscovered + 50 {
		addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, byte(i / 250), byte(i%250 + 1)}), 7946)
		c.found(discover.Peer{Instance: fmt.Sprintf("n%d", i), Addr: addr})
	}
	if len(c.discovered) != maxDiscovered {
		t.Errorf("kept %d peers, want %d", len(c.discovered), maxDiscovered)
	}
	c.found(discover.Peer{Instance: "n0", Gone: true})
	if _, ok := c.discovered["n0"]; ok {
		t.Error("n0 kept after its goodbye")
	}
	c.found(discover.Peer{Instance: "late", Addr: netip.MustParseAddrPort("203.0.113.9:7946")})
	if c.discovered["late"] != "203.0.113.9:7946" {
		t.Error("a goodbye did not make room for a new peer")
	}
}

// TestJoinListMergesDiscovered: the join list is the hostfile's peers,
// then the discovered ones not among them.
func TestJoinListMergesDiscovered(t *testing.T) {
	c := newTestCore(t)
	c.peers = []string{"192.0.2.5:7946", "192.0.2.6:7946"}
	c.discovered = map[string]string{"b": "192.0.2.6:7946", "a": "192.0.2.9:7946"}
	want := []string{"192.0.2.5:7946", "192.0.2.6:7946", "192.0.2.9:7946"}
	if got := c.joinListLocked(); !slices.Equal(got, want) {
		t.Errorf("join list = %v, want %v", got, want)
	}
}
