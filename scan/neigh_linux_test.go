//go:build linux

package scan

import (
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/ipfinder-go/ipfinder/internal/lab"
	"github.com/ipfinder-go/ipfinder/internal/rtnl"
)

func TestLiveNeighbors(t *testing.T) {
	hw := net.HardwareAddr{2, 0, 0, 0, 0, 9}
	neighs := []rtnl.Neigh{
		{Addr: netip.MustParseAddr("192.0.2.1"), State: unix.NUD_REACHABLE, MAC: hw},
		{Addr: netip.MustParseAddr("192.0.2.2"), State: unix.NUD_STALE, MAC: hw},
		{Addr: netip.MustParseAddr("192.0.2.3"), State: unix.NUD_PERMANENT, MAC: hw},
		{Addr: netip.MustParseAddr("192.0.2.4"), State: unix.NUD_FAILED},
		{Addr: netip.MustParseAddr("192.0.2.5"), State: unix.NUD_INCOMPLETE},
		{Addr: netip.MustParseAddr("192.0.2.6"), State: unix.NUD_NOARP | unix.NUD_PERMANENT, MAC: hw},
		{Addr: netip.MustParseAddr("192.0.2.7"), State: unix.NUD_REACHABLE, MAC: net.HardwareAddr{1, 2}},
		{Addr: netip.MustParseAddr("2001:db8::1"), State: unix.NUD_REACHABLE, MAC: hw},
		{State: unix.NUD_REACHABLE, MAC: hw},
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
