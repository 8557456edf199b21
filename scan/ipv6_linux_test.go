package scan

import (
	"net"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/ipfinder-go/ipfinder/internal/rtnl"
)

func TestNeighborMACs(t *testing.T) {
	mac := net.HardwareAddr{0x02, 0, 0x5e, 0, 0x53, 1}
	neighs := []rtnl.Neigh{
		{Addr: netip.MustParseAddr("2001:db8::1"), MAC: mac, State: unix.NUD_REACHABLE},
		{Addr: netip.MustParseAddr("fe80::1"), MAC: mac, State: unix.NUD_STALE},
		{Addr: netip.MustParseAddr("fd00:db8::1"), MAC: mac, State: unix.NUD_DELAY},
		{Addr: netip.MustParseAddr("2001:db8::2"), State: unix.NUD_INCOMPLETE},
		{Addr: netip.MustParseAddr("2001:db8::3"), MAC: mac, State: unix.NUD_FAILED},
		{Addr: netip.MustParseAddr("2001:db8::4"), MAC: mac[:4], State: unix.NUD_REACHABLE},
		{Addr: netip.MustParseAddr("192.0.2.1"), MAC: mac, State: unix.NUD_REACHABLE},
		{MAC: mac, State: unix.NUD_REACHABLE},
	}
	want := map[string]string{
		"2001:db8::1":  mac.String(),
		"fe80::1%eth0": mac.String(),
		"fd00:db8::1":  mac.String(),
	}
	got := make(map[string]string)
	for a, m := range neighborMACs(neighs, "eth0") {
		got[a.String()] = m.String()
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("neighborMACs (-want +got):\n%s", diff)
	}
}
