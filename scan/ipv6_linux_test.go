package scan

import (
	"net"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
)

func TestNeighborMACs(t *testing.T) {
	mac := net.HardwareAddr{0x02, 0, 0x5e, 0, 0x53, 1}
	neighs := []netlink.Neigh{
		{IP: net.ParseIP("2001:db8::1"), HardwareAddr: mac, State: netlink.NUD_REACHABLE},
		{IP: net.ParseIP("fe80::1"), HardwareAddr: mac, State: netlink.NUD_STALE},
		{IP: net.ParseIP("fd00:db8::1"), HardwareAddr: mac, State: netlink.NUD_DELAY},
		{IP: net.ParseIP("2001:db8::2"), State: netlink.NUD_INCOMPLETE},
		{IP: net.ParseIP("2001:db8::3"), HardwareAddr: mac, State: netlink.NUD_FAILED},
		{IP: net.ParseIP("2001:db8::4"), HardwareAddr: mac[:4], State: netlink.NUD_REACHABLE},
		{IP: net.ParseIP("192.0.2.1"), HardwareAddr: mac, State: netlink.NUD_REACHABLE},
		{IP: nil, HardwareAddr: mac, State: netlink.NUD_REACHABLE},
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
