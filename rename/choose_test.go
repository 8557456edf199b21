package rename

import (
	"net/netip"
	"slices"
	"testing"
)

func addr(ifindex int, prefix string, flags Flags) Addr {
	return Addr{Ifindex: ifindex, Ifname: "eth" + string(rune('0'+ifindex)), Prefix: netip.MustParsePrefix(prefix), Flags: flags}
}

func TestChoose(t *testing.T) {
	tests := []struct {
		name  string
		addrs []Addr
		def   int
		want  string // "" for none
	}{
		{name: "empty", want: ""},
		{
			name: "loopback_and_link_local_skipped",
			addrs: []Addr{
				{Ifindex: 1, Prefix: netip.MustParsePrefix("127.0.0.1/8"), Scope: ScopeHost},
				{Ifindex: 1, Prefix: netip.MustParsePrefix("::1/128"), Scope: ScopeHost},
				addr(2, "169.254.7.7/16", 0),
				addr(2, "fe80::1/64", 0),
			},
			want: "",
		},
		{
			name:  "host_scope_skipped",
			addrs: []Addr{{Ifindex: 2, Prefix: netip.MustParsePrefix("192.0.2.9/24"), Scope: ScopeHost}},
			want:  "",
		},
		{
			name:  "single_global",
			addrs: []Addr{addr(1, "127.0.0.1/8", 0), addr(2, "192.0.2.10/24", 0)},
			want:  "192.0.2.10",
		},
		{
			name:  "ipv4_before_ipv6",
			addrs: []Addr{addr(2, "2001:db8::10/64", 0), addr(2, "192.0.2.10/24", 0)},
			want:  "192.0.2.10",
		},
		{
			name:  "default_route_interface_preferred",
			addrs: []Addr{addr(2, "192.0.2.10/24", 0), addr(3, "198.51.100.10/24", 0)},
			def:   3,
			want:  "198.51.100.10",
		},
		{
			name:  "default_route_interface_ipv6_beats_other_ipv4",
			addrs: []Addr{addr(2, "192.0.2.10/24", 0), addr(3, "2001:db8::10/64", 0)},
			def:   3,
			want:  "2001:db8::10",
		},
		{
			name:  "lower_ifindex_without_default_route",
			addrs: []Addr{addr(3, "192.0.2.10/24", 0), addr(2, "198.51.100.10/24", 0)},
			want:  "198.51.100.10",
		},
		{
			name:  "lower_address_on_same_interface",
			addrs: []Addr{addr(2, "198.51.100.10/24", 0), addr(2, "192.0.2.10/24", 0)},
			want:  "192.0.2.10",
		},
		{
			name:  "primary_before_secondary",
			addrs: []Addr{addr(2, "192.0.2.5/24", FlagSecondary), addr(2, "192.0.2.10/24", 0)},
			want:  "192.0.2.10",
		},
		{
			name:  "promoted_secondary",
			addrs: []Addr{addr(2, "192.0.2.20/24", 0)},
			want:  "192.0.2.20",
		},
		{
			name:  "secondary_when_alone",
			addrs: []Addr{addr(2, "192.0.2.20/24", FlagSecondary)},
			want:  "192.0.2.20",
		},
		{
			name:  "ipv6_privacy_ignored",
			addrs: []Addr{addr(2, "2001:db8::1/64", FlagTemporary), addr(2, "2001:db8::ffff/64", 0)},
			want:  "2001:db8::ffff",
		},
		{
			name:  "ipv6_tentative_ignored",
			addrs: []Addr{addr(2, "2001:db8::1/64", FlagTentative), addr(2, "2001:db8::ffff/64", 0)},
			want:  "2001:db8::ffff",
		},
		{
			name:  "ipv6_dad_failed_ignored",
			addrs: []Addr{addr(2, "2001:db8::1/64", FlagDADFailed)},
			want:  "",
		},
		{
			name:  "deprecated_ignored",
			addrs: []Addr{addr(2, "192.0.2.1/24", FlagDeprecated), addr(2, "192.0.2.200/24", 0)},
			want:  "192.0.2.200",
		},
		{
			name:  "only_privacy_and_tentative",
			addrs: []Addr{addr(2, "2001:db8::1/64", FlagTemporary), addr(2, "2001:db8::2/64", FlagTentative)},
			want:  "",
		},
		{
			name:  "mapped_address_unmapped",
			addrs: []Addr{addr(2, "::ffff:192.0.2.7/120", 0)},
			want:  "192.0.2.7",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := netip.Addr{}
			if tt.want != "" {
				want = netip.MustParseAddr(tt.want)
			}
			if got := Choose(tt.addrs, tt.def); got != want {
				t.Errorf("Choose = %v, want %v", got, want)
			}
			rev := slices.Clone(tt.addrs)
			slices.Reverse(rev)
			if got := Choose(rev, tt.def); got != want {
				t.Errorf("Choose(reversed) = %v, want %v", got, want)
			}
		})
	}
}

// FuzzChoose checks that Choose never panics, returns one of the usable
// addresses and ignores their order.
func FuzzChoose(f *testing.F) {
	f.Add([]byte{2, 0, 192, 0, 2, 10, 24, 3, 0x40, 32, 1, 13, 184, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 64}, 2)
	f.Add([]byte{1, 0, 127, 0, 0, 1, 8}, 0)
	f.Fuzz(func(t *testing.T, data []byte, def int) {
		var addrs []Addr
		for len(data) >= 3 {
			ifindex, flags, n := int(data[0]%4), Flags(data[1]), 4
			if data[2]%2 == 1 {
				n = 16
			}
			data = data[3:]
			if len(data) < n+1 {
				break
			}
			ip, _ := netip.AddrFromSlice(data[:n])
			addrs = append(addrs, Addr{Ifindex: ifindex, Prefix: netip.PrefixFrom(ip, int(data[n])), Flags: flags})
			data = data[n+1:]
		}
		got := Choose(addrs, def)
		rev := slices.Clone(addrs)
		slices.Reverse(rev)
		if again := Choose(rev, def); again != got {
			t.Fatalf("order matters: %v then %v", got, again)
		}
		if !got.IsValid() {
			return
		}
		if !slices.ContainsFunc(addrs, func(a Addr) bool { return a.usable() && a.Prefix.Addr().Unmap() == got }) {
			t.Fatalf("Choose = %v, not a usable input", got)
		}
	})
}
