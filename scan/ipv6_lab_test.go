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

// ipv6Lab is a lab whose host 0 (the scanner) and host 1 have global and
// unique local addresses, host 2 only its link-local one, and host 3 a
// global one and no IPv4 address.
func ipv6Lab(t *testing.T) *lab.Lab {
	t.Helper()
	l := lab.New(t, lab.Config{Hosts: 4})
	add := map[int][]string{
		0: {"2001:db8:11::1/64", "fd00:db8:11::1/64"},
		1: {"2001:db8:11::2/64", "fd00:db8:11::2/64"},
		3: {"2001:db8:11::4/64"},
	}
	for i, ps := range add {
		for _, p := range ps {
			if err := l.Hosts[i].AddIPv6(netip.MustParsePrefix(p)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := l.Hosts[3].DropIPv4(); err != nil {
		t.Fatal(err)
	}
	for _, h := range l.Hosts {
		if err := h.WaitDAD(); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

func TestLabFindIPv6(t *testing.T) {
	l := ipv6Lab(t)
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
