package scan

import (
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

var (
	upEth = net.FlagUp | net.FlagBroadcast | net.FlagMulticast
	eth0  = Iface{Name: "eth0", Index: 2, MAC: mac(1), Flags: upEth, Addrs: []netip.Prefix{pfx("192.0.2.10/28"), pfx("2001:db8::10/64")}}
	eth1  = Iface{Name: "eth1", Index: 3, MAC: mac(2), Flags: upEth, Addrs: []netip.Prefix{pfx("198.51.100.1/30")}}
	lo    = Iface{Name: "lo", Index: 1, Flags: net.FlagUp | net.FlagLoopback, Addrs: []netip.Prefix{pfx("127.0.0.1/8")}}
	down  = Iface{Name: "eth2", Index: 4, MAC: mac(3), Flags: net.FlagBroadcast, Addrs: []netip.Prefix{pfx("203.0.113.1/24")}}
	tun   = Iface{Name: "tun0", Index: 5, Flags: net.FlagUp | net.FlagPointToPoint, Addrs: []netip.Prefix{pfx("203.0.113.9/24")}}
	big   = Iface{Name: "eth3", Index: 6, MAC: mac(4), Flags: upEth, Addrs: []netip.Prefix{pfx("10.1.2.3/8")}}
)

// plans renders plans as "iface: targets" for comparison.
func plans(ps []Plan) map[string]string {
	out := map[string]string{}
	for _, p := range ps {
		var s []string
		for _, a := range p.Targets {
			s = append(s, a.String())
		}
		out[p.Iface.Name] = strings.Join(s, " ")
	}
	return out
}

func TestTargets(t *testing.T) {
	tests := []struct {
		name    string
		ifaces  []Iface
		cidrs   []string
		exclude []string
		force   bool
		want    map[string]string
		wantErr string
	}{
		{
			name:   "attached_subnets",
			ifaces: []Iface{lo, eth0, eth1, down, tun},
			want: map[string]string{
				"eth0": "192.0.2.1 192.0.2.2 192.0.2.3 192.0.2.4 192.0.2.5 192.0.2.6 192.0.2.7 192.0.2.8 192.0.2.9 192.0.2.11 192.0.2.12 192.0.2.13 192.0.2.14",
				"eth1": "198.51.100.2",
			},
		},
		{
			name:    "exclude",
			ifaces:  []Iface{eth0},
			exclude: []string{"192.0.2.0/29", "192.0.2.12/32"},
			want:    map[string]string{"eth0": "192.0.2.8 192.0.2.9 192.0.2.11 192.0.2.13 192.0.2.14"},
		},
		{
			name:   "cidr_inside_subnet",
			ifaces: []Iface{eth0, eth1},
			cidrs:  []string{"192.0.2.12/30"},
			want:   map[string]string{"eth0": "192.0.2.12 192.0.2.13 192.0.2.14"},
		},
		{
			name:   "cidr_keeps_its_own_edges",
			ifaces: []Iface{{Name: "eth0", MAC: mac(1), Flags: upEth, Addrs: []netip.Prefix{pfx("192.0.2.1/24")}}},
			cidrs:  []string{"192.0.2.8/30"},
			want:   map[string]string{"eth0": "192.0.2.8 192.0.2.9 192.0.2.10 192.0.2.11"},
		},
		{
			name:   "overlapping_cidrs",
			ifaces: []Iface{eth0},
			cidrs:  []string{"192.0.2.12/30", "192.0.2.14/31", "192.0.2.12/30"},
			want:   map[string]string{"eth0": "192.0.2.12 192.0.2.13 192.0.2.14"},
		},
		{
			name:   "slash_31",
			ifaces: []Iface{{Name: "eth0", MAC: mac(1), Flags: upEth, Addrs: []netip.Prefix{pfx("192.0.2.0/31")}}},
			want:   map[string]string{"eth0": "192.0.2.1"},
		},
		{
			name:   "slash_32_has_nothing",
			ifaces: []Iface{eth1, {Name: "eth0", MAC: mac(1), Flags: upEth, Addrs: []netip.Prefix{pfx("192.0.2.7/32")}}},
			want:   map[string]string{"eth1": "198.51.100.2"},
		},
		{
			name:    "cidr_not_on_link",
			ifaces:  []Iface{eth0},
			cidrs:   []string{"203.0.113.0/24"},
			wantErr: "prefix 203.0.113.0/24 is not on-link (eth0 has 192.0.2.10/28)",
		},
		{
			name:    "cidr_larger_than_subnet",
			ifaces:  []Iface{eth0},
			cidrs:   []string{"192.0.2.0/24"},
			wantErr: "not on-link",
		},
		{
			name:    "cidr_on_down_interface",
			ifaces:  []Iface{down},
			cidrs:   []string{"203.0.113.0/25"},
			wantErr: "no up Ethernet interface has an IPv4 subnet",
		},
		{
			name:    "cidr_ipv6",
			ifaces:  []Iface{eth0},
			cidrs:   []string{"2001:db8::/64"},
			wantErr: "not IPv4",
		},
		{
			name:    "cidr_too_large",
			ifaces:  []Iface{big},
			cidrs:   []string{"10.0.0.0/15"},
			wantErr: "10.0.0.0/15 holds 131072 addresses, more than a /16: narrow it, or use --force",
		},
		{
			name:    "attached_subnet_too_large",
			ifaces:  []Iface{big},
			wantErr: "eth3: 10.0.0.0/8 holds 16777216 addresses",
		},
		{
			name:   "cidr_inside_large_subnet",
			ifaces: []Iface{big},
			cidrs:  []string{"10.1.2.0/30"},
			want:   map[string]string{"eth3": "10.1.2.0 10.1.2.1 10.1.2.2"},
		},
		{
			name:    "no_interface",
			ifaces:  []Iface{lo, down, tun},
			wantErr: "no interface to sweep",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cidrs, exclude []netip.Prefix
			for _, c := range tt.cidrs {
				cidrs = append(cidrs, pfx(c))
			}
			for _, c := range tt.exclude {
				exclude = append(exclude, pfx(c))
			}
			got, err := Targets(tt.ifaces, cidrs, exclude, tt.force)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, plans(got)); diff != "" {
				t.Errorf("targets (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTargetsForceSlash16(t *testing.T) {
	it := Iface{Name: "eth0", MAC: mac(1), Flags: upEth, Addrs: []netip.Prefix{pfx("10.20.0.1/16")}}
	got, err := Targets([]Iface{it}, nil, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(got[0].Targets) != 65533 {
		t.Fatalf("a /16 gave %d plans, want 1 with 65533 targets", len(got))
	}
	if first, last := got[0].Targets[0], got[0].Targets[65532]; first.String() != "10.20.0.2" || last.String() != "10.20.255.254" {
		t.Errorf("targets run from %v to %v", first, last)
	}
	it.Addrs = []netip.Prefix{pfx("10.20.0.1/15")}
	if _, err := Targets([]Iface{it}, []netip.Prefix{pfx("10.20.0.0/15")}, nil, true); err != nil {
		t.Errorf("forced /15: %v", err)
	}
}

func TestInterfaces(t *testing.T) {
	ifaces, err := Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range ifaces {
		if it.Flags&net.FlagLoopback != 0 && len(it.Addrs) > 0 {
			return // the loopback interface has its addresses
		}
	}
	t.Errorf("no loopback interface with addresses among %+v", ifaces)
}

func TestLastAddr(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.0/24": "192.0.2.255", "192.0.2.8/30": "192.0.2.11", "0.0.0.0/0": "255.255.255.255", "192.0.2.7/32": "192.0.2.7",
	} {
		if got := lastAddr(pfx(in)); got.String() != want {
			t.Errorf("lastAddr(%s) = %v, want %s", in, got, want)
		}
	}
}
