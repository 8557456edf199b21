//go:build linux

package scan

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/ipfinder-go/ipfinder/internal/lab"
)

func TestLabFindIPv6(t *testing.T) {
	l := lab.NewIPv6(t, 0x11) // 2001:db8:11::/64; host 0 is the scanner
	var found []IPv6Neighbor
	err := l.Hosts[0].Do(func() error {
		ifi, err := net.InterfaceByName(l.Hosts[0].Iface)
		if err != nil {
			return err
		}
		found, err = FindIPv6(context.Background(), ifi, nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	got := make(map[netip.Addr]string)
	for _, n := range found {
		got[n.Addr] = n.MAC.String()
	}
	for _, h := range l.Hosts[1:] {
		addrs, err := h.IPv6Addrs()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(addrs, netip.Addr.IsLinkLocalUnicast) {
			t.Fatalf("%s has no link-local address: %v", h, addrs)
		}
		for _, a := range addrs {
			if mac, ok := got[a]; !ok || mac != h.MAC.String() {
				t.Errorf("%s: %v found with MAC %q, want %v", h, a, mac, h.MAC)
			}
			delete(got, a)
		}
	}
	if len(got) > 0 {
		t.Errorf("found addresses of no other host: %v", got)
	}
}
