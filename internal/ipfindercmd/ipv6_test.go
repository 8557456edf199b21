package ipfindercmd

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ipfinder-go/ipfinder/scan"
)

func TestOwnIPv6(t *testing.T) {
	ifi := scan.Iface{Name: "eth0", Addrs: []netip.Prefix{
		netip.MustParsePrefix("192.0.2.1/24"),
		netip.MustParsePrefix("fe80::1/64"),
		netip.MustParsePrefix("2001:db8::1/64"),
		netip.MustParsePrefix("fd00:db8::1/64"),
		netip.MustParsePrefix("::ffff:192.0.2.1/128"),
		netip.MustParsePrefix("ff02::1/128"),
	}}
	want := []netip.Addr{addr("fe80::1%eth0"), addr("2001:db8::1"), addr("fd00:db8::1")}
	if diff := cmp.Diff(want, ownIPv6(ifi), addrEq); diff != "" {
		t.Errorf("ownIPv6 (-want +got):\n%s", diff)
	}
}

func TestExcluded(t *testing.T) {
	prefixes := []netip.Prefix{netip.MustParsePrefix("2001:db8::/64"), netip.MustParsePrefix("fe80::9/128")}
	tests := []struct {
		addr string
		want bool
	}{
		{"2001:db8::1", true},
		{"2001:db8:1::1", false},
		{"fe80::9%eth0", true},
		{"fe80::8%eth0", false},
		{"192.0.2.1", false},
	}
	for _, tt := range tests {
		if got := excluded(prefixes, addr(tt.addr)); got != tt.want {
			t.Errorf("excluded(%s) = %v, want %v", tt.addr, got, tt.want)
		}
	}
}
