package rename

import (
	"net/netip"
	"slices"
	"testing"
)

func addr(ifindex int, prefix string, flags addrFlags) ifaceAddr {
	return ifaceAddr{Ifindex: ifindex, Ifname: "eth" + string(rune('0'+ifindex)), Prefix: netip.MustParsePrefix(prefix), Flags: flags}
}

func TestChoose(t *testing.T) {
	tests := []struct {
		name  string
		addrs []ifaceAddr
		def   int
		want  string // "" for none
	}{
		{name: "empty", want: ""},
		{
			name: "loopback_and_link_local_skipped",
			addrs: []ifaceAddr{
				{Ifindex: 1, Prefix: netip.MustParsePrefix("127.0.0.1/8"), Scope: scopeHost},
				{Ifindex: 1, Prefix: netip.MustParsePrefix("::1/128"), Scope: scopeHost},
				addr(2, "169.254.7.7/16", 0),
				addr(2, "fe80::1/64", 0),
			},
			want: "",
		},
		{
			name:  "host_scope_skipped",
			addrs: []ifaceAddr{{Ifindex: 2, Prefix: netip.MustParsePrefix("192.0.2.9/24"), Scope: scopeHost}},
			want:  "",
		},
		{
			name:  "single_global",
			addrs: []ifaceAddr{addr(1, "127.0.0.1/8", 0), addr(2, "192.0.2.10/24", 0)},
			want:  "192.0.2.10",
		},
		{
			name:  "ipv4_before_ipv6",
			addrs: []ifaceAddr{addr(2, "2001:db8::10/64", 0), addr(2, "192.0.2.10/24", 0)},
			want:  "192.0.2.10",
		},
		{
			name:  "default_route_interface_preferred",
			addrs: []ifaceAddr{addr(2, "192.0.2.10/24", 0), addr(3, "198.51.100.10/24", 0)},
			def:   3,
			want:  "198.51.100.10",
		},
		{
			name:  "default_route_interface_ipv6_beats_other_ipv4",
			addrs: []ifaceAddr{addr(2, "192.0.2.10/24", 0), addr(3, "2001:db8::10/64", 0)},
			def:   3,
			want:  "2001:db8::10",
		},
		{
			name:  "lower_ifindex_without_default_route",
			addrs: []ifaceAddr{addr(3, "192.0.2.10/24", 0), addr(2, "198.51.100.10/24", 0)},
			want:  "198.51.100.10",
		},
		{
			name:  "lower_address_on_same_interface",
			addrs: []ifaceAddr{addr(2, "198.51.100.10/24", 0), addr(2, "192.0.2.10/24", 0)},
			want:  "192.0.2.10",
		},
		{
			name:  "primary_before_secondary",
			addrs: []ifaceAddr{addr(2, "192.0.2.5/24", flagSecondary), addr(2, "192.0.2.10/24", 0)},
			want:  "192.0.2.10",
		},
		{
			name:  "promoted_secondary",
			addrs: []ifaceAddr{addr(2, "192.0.2.20/24", 0)},
			want:  "192.0.2.20",
		},
		{
			name:  "secondary_when_alone",
			addrs: []ifaceAddr{addr(2, "192.0.2.20/24", flagSecondary)},
			want:  "192.0.2.20",
		},
		{
			name:  "ipv6_privacy_ignored",
			addrs: []ifaceAddr{addr(2, "2001:db8::1/64", flagTemporary), addr(2, "2001:db8::ffff/64", 0)},
			want:  "2001:db8::ffff",
		},
		{
			name:  "ipv6_tentative_ignored",
			addrs: []ifaceAddr{addr(2, "2001:db8::1/64", flagTentative), addr(2, "2001:db8::ffff/64", 0)},
			want:  "2001:db8::ffff",
		},
		{
			name:  "ipv6_dad_failed_ignored",
			addrs: []ifaceAddr{addr(2, "2001:db8::1/64", flagDADFailed)},
			want:  "",
		},
		{
			name:  "deprecated_ignored",
			addrs: []ifaceAddr{addr(2, "192.0.2.1/24", flagDeprecated), addr(2, "192.0.2.200/24", 0)},
			want:  "192.0.2.200",
		},
		{
			name:  "only_privacy_and_tentative",
			addrs: []ifaceAddr{addr(2, "2001:db8::1/64", flagTemporary), addr(2, "2001:db8::2/64", flagTentative)},
			want:  "",
		},
		{
			name:  "mapped_address_unmapped",
			addrs: []ifaceAddr{addr(2, "::ffff:192.0.2.7/120", 0)},
			want:  "192.0.2.7",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := netip.Addr{}
			if tt.want != "" {
				want = netip.MustParseAddr(tt.want)
			}
			if got := chooseAddr(tt.addrs, tt.def); got != want {
				t.Errorf("chooseAddr = %v, want %v", got, want)
			}
			rev := slices.Clone(tt.addrs)
			slices.Reverse(rev)
			if got := chooseAddr(rev, tt.def); got != want {
				t.Errorf("chooseAddr(reversed) = %v, want %v", got, want)
			}
		})
	}
}

// FuzzChoose checks that chooseAddr never panics, returns one of the usable
// addresses and ignores their order.
func FuzzChoose(f *testing.F) {
	f.Add([]byte{2, 0, 192, 0, 2, 10, 24, 3, 0x40, 32, 1, 13, 184, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 64}, 2)
	f.Add([]byte{1, 0, 127, 0, 0, 1, 8}, 0)
	f.Fuzz(func(t *testing.T, data []byte, def int) {
		var addrs []ifaceAddr
		for len(data) >= 3 {
			ifindex, flags, n := int(data[0]%4), addrFlags(data[1]), 4
			if data[2]%2 == 1 {
				n = 16
			}
			data = data[3:]
			if len(data) < n+1 {
				break
			}
			ip, _ := netip.AddrFromSlice(data[:n])
			addrs = append(addrs, ifaceAddr{Ifindex: ifindex, Prefix: netip.PrefixFrom(ip, int(data[n])), Flags: flags})
			data = data[n+1:]
		}
		got := chooseAddr(addrs, def)
		rev := slices.Clone(addrs)
		slices.Reverse(rev)
		if again := chooseAddr(rev, def); again != got {
			t.Fatalf("order matters: %v then %v", got, again)
		}
		if !got.IsValid() {
			return
		}
		if !slices.ContainsFunc(addrs, func(a ifaceAddr) bool { return a.usable() && a.Prefix.Addr().Unmap() == got }) {
			t.Fatalf("chooseAddr = %v, not a usable input", got)
		}
	})
}

// TestChooseDefaultRoute: the default route's interface wins over IPv4
// first; loopback and privacy addresses never do.
func TestChooseDefaultRoute(t *testing.T) {
	addrs := []ifaceAddr{
		{Ifindex: 1, Ifname: "lo", Prefix: netip.MustParsePrefix("127.0.0.1/8"), Scope: scopeHost},
		{Ifindex: 2, Ifname: "eth0", Prefix: netip.MustParsePrefix("2001:db8::5/64")},
		{Ifindex: 2, Ifname: "eth0", Prefix: netip.MustParsePrefix("2001:db8::1/64"), Flags: flagTemporary},
		{Ifindex: 3, Ifname: "wlan0", Prefix: netip.MustParsePrefix("192.0.2.7/24")},
	}
	for _, tt := range []struct {
		def  int
		want string
	}{
		{def: 2, want: "2001:db8::5"}, // the default route is on eth0
		{def: 0, want: "192.0.2.7"},   // no default route: IPv4 first
	} {
		if got := chooseAddr(addrs, tt.def); got != netip.MustParseAddr(tt.want) {
			t.Errorf("chooseAddr(addrs, %d) = %v, want %s", tt.def, got, tt.want)
		}
	}
}
