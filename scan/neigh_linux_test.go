//go:build linux

package scan

import (
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/ipfinder-go/ipfinder/internal/lab"
)

func TestLiveNeighbors(t *testing.T) {
	hw := net.HardwareAddr{2, 0, 0, 0, 0, 9}
	neighs := []netlink.Neigh{
		{IP: net.ParseIP("192.0.2.1"), State: netlink.NUD_REACHABLE, HardwareAddr: hw},
		{IP: net.ParseIP("192.0.2.2"), State: netlink.NUD_STALE, HardwareAddr: hw},
		{IP: net.ParseIP("192.0.2.3"), State: netlink.NUD_PERMANENT, HardwareAddr: hw},
		{IP: net.ParseIP("192.0.2.4"), State: netlink.NUD_FAILED},
		{IP: net.ParseIP("192.0.2.5"), State: netlink.NUD_INCOMPLETE},
		{IP: net.ParseIP("192.0.2.6"), State: netlink.NUD_NOARP | netlink.NUD_PERMANENT, HardwareAddr: hw},
		{IP: net.ParseIP("192.0.2.7"), State: netlink.NUD_REACHABLE, HardwareAddr: net.HardwareAddr{1, 2}},
		{IP: net.ParseIP("2001:db8::1"), State: netlink.NUD_REACHABLE, HardwareAddr: hw},
		{IP: nil, State: netlink.NUD_REACHABLE, HardwareAddr: hw},
	}
	want := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3")}
	if got := liveNeighbors(neighs); !slices.Equal(got, want) {
		t.Errorf("liveNeighbors = %v, want %v", got, want)
	}
}

func TestNeighborAddrsLab(t *testing.T) {
	l := lab.New(t, lab.Config{Hosts: 3})
	h, peer := l.Hosts[0], l.Hosts[2]
	var got []netip.Addr
	err := h.Do(func() error {
		link, err := netlink.LinkByName(h.Iface)
		if err != nil {
			return err
		}
		n := &netlink.Neigh{LinkIndex: link.Attrs().Index, Family: netlink.FAMILY_V4, State: netlink.NUD_REACHABLE,
			IP: peer.Addr.AsSlice(), HardwareAddr: peer.MAC}
		if err := netlink.NeighAdd(n); err != nil {
			return err
		}
		got, err = NeighborAddrs(link.Attrs().Index)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(got, peer.Addr) {
		t.Errorf("NeighborAddrs = %v, want it to hold %v", got, peer.Addr)
	}
}
