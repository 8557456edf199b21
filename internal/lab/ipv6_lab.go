//go:build linux

package lab

import (
	"fmt"
	"net/netip"
	"testing"
)

// NewIPv6 is [New] with four hosts on an IPv6 LAN: hosts 0 and 1 have a
// global address in 2001:db8:<subnet>::/64 and a unique local one in
// fd00:db8:<subnet>::/64 (interface IDs ::1 and ::2), host 2 only its
// link-local one, and host 3 the global ::4 and no IPv4 address. It
// returns once duplicate address detection is done on every host.
func NewIPv6(tb testing.TB, subnet uint16) *Lab {
	tb.Helper()
	l := New(tb, Config{Hosts: 4})
	addr := func(net string, id int) netip.Prefix {
		return netip.MustParsePrefix(fmt.Sprintf("%s:db8:%x::%d/64", net, subnet, id))
	}
	add := map[int][]netip.Prefix{
		0: {addr("2001", 1), addr("fd00", 1)},
		1: {addr("2001", 2), addr("fd00", 2)},
		3: {addr("2001", 4)},
	}
	for i, ps := range add {
		for _, p := range ps {
			if err := l.Hosts[i].AddIPv6(p); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if err := l.Hosts[3].DropIPv4(); err != nil {
		tb.Fatal(err)
	}
	for _, h := range l.Hosts {
		if err := h.WaitDAD(); err != nil {
			tb.Fatal(err)
		}
	}
	return l
}
