package sdjoincmd

import (
	"net/netip"
	"testing"
)

func TestChooseAdvertise(t *testing.T) {
	a := netip.MustParseAddr
	tests := []struct {
		name  string
		addrs []netip.Addr
		want  netip.Addr
	}{
		{name: "first_private", addrs: []netip.Addr{a("fe80::1"), a("10.0.0.5"), a("192.168.1.2")}, want: a("10.0.0.5")},
		{name: "private_before_global", addrs: []netip.Addr{a("192.0.2.10"), a("172.16.0.1")}, want: a("172.16.0.1")},
		{name: "shared_space_is_private", addrs: []netip.Addr{a("198.51.100.1"), a("100.64.1.1")}, want: a("100.64.1.1")},
		{name: "global_when_no_private", addrs: []netip.Addr{a("169.254.1.1"), a("198.51.100.1"), a("192.0.2.10")}, want: a("198.51.100.1")},
		{name: "ipv6_and_loopback_ignored", addrs: []netip.Addr{a("127.0.0.1"), a("2001:db8::1")}},
		{name: "mapped_ipv4", addrs: []netip.Addr{a("::ffff:10.1.2.3")}, want: a("10.1.2.3")},
		{name: "none", addrs: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := chooseAdvertise(tt.addrs)
			if got != tt.want || ok != tt.want.IsValid() {
				t.Errorf("chooseAdvertise = %v, %v; want %v", got, ok, tt.want)
			}
		})
	}
}
