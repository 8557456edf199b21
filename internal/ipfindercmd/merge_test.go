package ipfindercmd

import (
	"bytes"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ipfinder-go/ipfinder/hostfile"
	"github.com/ipfinder-go/ipfinder/scan"
)

var (
	macA = net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x53, 0x01}
	macB = net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x53, 0x02}
	macS = net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x53, 0xff}
)

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// addrEq lets cmp compare netip.Addr values.
var addrEq = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

// lanPlan is the plan of a sweep of 192.0.2.0/24 from eth0 (192.0.2.1,
// macS) for targets.
func lanPlan(targets ...string) scan.Plan {
	p := scan.Plan{
		Iface:    scan.Iface{Name: "eth0", MAC: macS, Addrs: []netip.Prefix{netip.MustParsePrefix("192.0.2.1/24")}},
		Prefixes: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")},
	}
	for _, t := range targets {
		p.Targets = append(p.Targets, addr(t))
	}
	return p
}

func TestMerge(t *testing.T) {
	plan := lanPlan("192.0.2.10", "192.0.2.11", "192.0.2.12")
	link := linkResult{
		plan: plan,
		arp: []scan.ARPReply{
			{Addr: addr("192.0.2.11"), MAC: macB},
			{Addr: addr("192.0.2.10"), MAC: macA, Conflict: []net.HardwareAddr{macB}},
		},
		mdns: []scan.MDNSHost{
			{Addr: addr("192.0.2.10"), Names: []string{"alpha.local"}, Services: []string{"_ssh._tcp"}},
			{Addr: addr("192.0.2.12"), Names: []string{"mdnsonly.local"}},    // no ARP reply, but a target
			{Addr: addr("198.51.100.7"), Names: []string{"elsewhere.local"}}, // not a target: left out
			{Addr: addr("192.0.2.1"), Names: []string{"me.local"}},
		},
	}
	vendor := func(m net.HardwareAddr) string {
		if m.String() == macA.String() {
			return "Vendor A"
		}
		return ""
	}
	tests := []struct {
		name string
		self bool
		want []hostfile.Host
	}{
		{name: "with_self", self: true, want: []hostfile.Host{
			{Addr: addr("192.0.2.1"), MAC: macS, Names: []string{"box", "me.local"}, Sources: src("box", "self", "me.local", "mdns"), Self: true},
			{Addr: addr("192.0.2.10"), MAC: macA, Vendor: "Vendor A", Conflict: []net.HardwareAddr{macB}, Names: []string{"alpha.local"}, Sources: src("alpha.local", "mdns"), Services: []string{"_ssh._tcp"}},
			{Addr: addr("192.0.2.11"), MAC: macB},
			{Addr: addr("192.0.2.12"), Names: []string{"mdnsonly.local"}, Sources: src("mdnsonly.local", "mdns")},
		}},
		{name: "no_self", self: false, want: []hostfile.Host{
			{Addr: addr("192.0.2.10"), MAC: macA, Vendor: "Vendor A", Conflict: []net.HardwareAddr{macB}, Names: []string{"alpha.local"}, Sources: src("alpha.local", "mdns"), Services: []string{"_ssh._tcp"}},
			{Addr: addr("192.0.2.11"), MAC: macB},
			{Addr: addr("192.0.2.12"), Names: []string{"mdnsonly.local"}, Sources: src("mdnsonly.local", "mdns")},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, dropped := merge([]linkResult{link}, tt.self, "box", vendor)
			if len(dropped) > 0 {
				t.Errorf("dropped %v, want nothing", dropped)
			}
			if diff := cmp.Diff(tt.want, got, addrEq); diff != "" {
				t.Errorf("merge (-want +got):\n%s", diff)
			}
		})
	}
}

// src is a Sources map from name, source pairs.
func src(kv ...string) map[string]string {
	m := make(map[string]string)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// TestMergeNamesFromEverySource checks the order of names (self, mDNS,
// DNS, NetBIOS), that a name is kept once with its first source, that bad
// names from DNS and NetBIOS are dropped like mDNS's, and that names for
// addresses nobody found are ignored.
func TestMergeNamesFromEverySource(t *testing.T) {
	plan := lanPlan("192.0.2.10", "192.0.2.11", "192.0.2.12", "192.0.2.13")
	link := linkResult{
		plan: plan,
		arp: []scan.ARPReply{
			{Addr: addr("192.0.2.10"), MAC: macA}, {Addr: addr("192.0.2.11"), MAC: macB},
			{Addr: addr("192.0.2.12"), MAC: macB}, {Addr: addr("192.0.2.13"), MAC: macA},
		},
		mdns: []scan.MDNSHost{{Addr: addr("192.0.2.10"), Names: []string{"nas.local"}}},
		names: unicastNames{
			rdns: []scan.RDNSHost{
				{Addr: addr("192.0.2.10"), Names: []string{"nas.lan", "nas.local"}}, // nas.local: mDNS said it first
				{Addr: addr("192.0.2.11"), Names: []string{"client11.lan", "bad name.lan"}},
				{Addr: addr("192.0.2.99"), Names: []string{"ghost.lan"}}, // nobody found it
			},
			netbios: []scan.NetBIOSHost{
				{Addr: addr("192.0.2.10"), Name: "nas", Workgroup: "WORKGROUP"},
				{Addr: addr("192.0.2.12"), Name: "desktop-7q2", Workgroup: "HOME"},
				{Addr: addr("192.0.2.13"), Name: "my pc"}, // a legal NetBIOS name, no hostfile name
			},
		},
	}
	got, dropped := merge([]linkResult{link}, false, "box", func(net.HardwareAddr) string { return "" })
	want := []hostfile.Host{
		{Addr: addr("192.0.2.10"), MAC: macA, Names: []string{"nas.local", "nas.lan", "nas"}, Workgroup: "WORKGROUP",
			Sources: src("nas.local", "mdns", "nas.lan", "dns", "nas", "netbios")},
		{Addr: addr("192.0.2.11"), MAC: macB, Names: []string{"client11.lan"}, Sources: src("client11.lan", "dns")},
		{Addr: addr("192.0.2.12"), MAC: macB, Names: []string{"desktop-7q2"}, Workgroup: "HOME", Sources: src("desktop-7q2", "netbios")},
		{Addr: addr("192.0.2.13"), MAC: macA},
	}
	if diff := cmp.Diff(want, got, addrEq); diff != "" {
		t.Errorf("merge (-want +got):\n%s", diff)
	}
	if len(dropped) != 2 || !strings.Contains(dropped[0].Error(), "reverse DNS name") || !strings.Contains(dropped[1].Error(), "NetBIOS name") {
		t.Errorf("dropped %v, want the DNS and the NetBIOS name with spaces", dropped)
	}
	var b bytes.Buffer
	if err := hostfile.Write(&b, hostfile.Hosts, withGeneratedNames(got)); err != nil {
		t.Fatal(err)
	}
	wantHosts := "192.0.2.10\tnas.local nas.lan nas\n192.0.2.11\tclient11.lan\n192.0.2.12\tdesktop-7q2\n192.0.2.13\thost-192-0-2-13\n"
	if got := b.String(); !strings.HasSuffix(got, wantHosts) {
		t.Errorf("hosts format:\n%s\nwant it to end with\n%s", got, wantHosts)
	}
}

func TestWithNodesAndNames(t *testing.T) {
	hosts := []hostfile.Host{{Addr: addr("192.0.2.10")}, {Addr: addr("192.0.2.11"), Names: []string{"b.local"}}}
	got, _ := withNodes(hosts, func(i int) []string { return [][]string{{"app", "queue"}, nil}[i] })
	if len(got) != 2 || got[0].Node != "app@192.0.2.10" || got[1].Node != "queue@192.0.2.10" {
		t.Errorf("withNodes = %+v", got)
	}
	named := withGeneratedNames(hosts)
	if named[0].Names[0] != "host-192-0-2-10" || named[1].Names[0] != "b.local" || len(hosts[0].Names) != 0 {
		t.Errorf("withGeneratedNames = %+v (input %+v)", named, hosts)
	}
}

func TestKeep(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	prev := []hostfile.Host{
		{Addr: addr("192.0.2.10"), LastSeen: now.Add(-time.Hour)},      // found again
		{Addr: addr("192.0.2.11"), LastSeen: now.Add(-2 * time.Hour)},  // dozing, within window
		{Addr: addr("192.0.2.12"), LastSeen: now.Add(-25 * time.Hour)}, // gone too long
		{Addr: addr("192.0.2.13")},                                     // never seen: dropped
		{Addr: addr("192.0.2.1"), Self: true, LastSeen: now},           // this machine comes from the sweep only
	}
	fresh := []hostfile.Host{{Addr: addr("192.0.2.10"), MAC: macA}}
	out, state := keep(prev, fresh, now, 24*time.Hour)
	want := []hostfile.Host{{Addr: addr("192.0.2.10"), MAC: macA}, {Addr: addr("192.0.2.11")}}
	if diff := cmp.Diff(want, out, addrEq); diff != "" {
		t.Errorf("keep out (-want +got):\n%s", diff)
	}
	wantState := []hostfile.Host{{Addr: addr("192.0.2.10"), MAC: macA, LastSeen: now}, {Addr: addr("192.0.2.11"), LastSeen: now.Add(-2 * time.Hour)}}
	if diff := cmp.Diff(wantState, state, addrEq); diff != "" {
		t.Errorf("keep state (-want +got):\n%s", diff)
	}
}

func TestKeepCarriesNamesMDNSMissed(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	prev := []hostfile.Host{
		{Addr: addr("192.0.2.10"), MAC: macA, Names: []string{"nas.local"}, Services: []string{"_smb._tcp"}, LastSeen: now.Add(-time.Hour),
			Sources: src("nas.local", "mdns"), Workgroup: "WG"},
		{Addr: addr("192.0.2.11"), MAC: macA, Names: []string{"old.local"}, LastSeen: now.Add(-time.Hour)},
	}
	fresh := []hostfile.Host{
		{Addr: addr("192.0.2.10"), MAC: macA}, // mDNS missed it: names carried over
		{Addr: addr("192.0.2.11"), MAC: macB}, // another machine now: no carry-over
	}
	out, _ := keep(prev, fresh, now, 24*time.Hour)
	if len(out) != 2 || !slices.Equal(out[0].Names, []string{"nas.local"}) || !slices.Equal(out[0].Services, []string{"_smb._tcp"}) ||
		out[0].Sources["nas.local"] != "mdns" || out[0].Workgroup != "WG" || len(out[1].Names) != 0 {
		t.Errorf("keep = %+v", out)
	}
}

func TestStatePath(t *testing.T) {
	for in, want := range map[string]string{
		"/home/me/.hosts":        "/home/me/.hosts.seen.json",
		"/etc/hosts.lan":         "/etc/.hosts.lan.seen.json",
		"hosts":                  ".hosts.seen.json",
		"/home/me/.hosts.erlang": "/home/me/.hosts.erlang.seen.json",
	} {
		if got := statePath(in); got != want {
			t.Errorf("statePath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestMergeDropsBadNames checks that names from the network that no
// hostfile can hold are left out, and the hosts that announced them stay,
// so that the sweep can still write its file.
func TestMergeDropsBadNames(t *testing.T) {
	plan := lanPlan("192.0.2.10", "192.0.2.11", "192.0.2.12")
	link := linkResult{
		plan: plan,
		arp:  []scan.ARPReply{{Addr: addr("192.0.2.10"), MAC: macA}, {Addr: addr("192.0.2.11"), MAC: macB}},
		mdns: []scan.MDNSHost{
			{Addr: addr("192.0.2.10"), Names: []string{"evil.1", "good.local", "2001:db8::1", ""}, Services: []string{"_ssh._tcp", "_bad service"}},
			{Addr: addr("192.0.2.11"), Names: []string{"a b.local", strings.Repeat("x", 254), "#c.local", "10.0.0.1"}},
			{Addr: addr("192.0.2.12"), Names: []string{"1.2"}}, // mDNS only: the host stays, without a name
		},
	}
	got, dropped := merge([]linkResult{link}, true, "1234", func(net.HardwareAddr) string { return "" })
	want := []hostfile.Host{
		{Addr: addr("192.0.2.1"), MAC: macS, Self: true},
		{Addr: addr("192.0.2.10"), MAC: macA, Names: []string{"good.local"}, Sources: src("good.local", "mdns"), Services: []string{"_ssh._tcp"}},
		{Addr: addr("192.0.2.11"), MAC: macB},
		{Addr: addr("192.0.2.12")},
	}
	if diff := cmp.Diff(want, got, addrEq); diff != "" {
		t.Errorf("merge (-want +got):\n%s", diff)
	}
	if len(dropped) != 10 {
		t.Errorf("dropped %d names, want 10: %v", len(dropped), dropped)
	}
	for _, err := range dropped {
		if msg := err.Error(); !strings.HasPrefix(msg, "192.0.2.") || len(msg) > 200 {
			t.Errorf("note %q: want the address first, and short", msg)
		}
	}
	for _, f := range []hostfile.Format{hostfile.Hosts, hostfile.Erlang, hostfile.Plain, hostfile.JSON} {
		if err := hostfile.Write(io.Discard, f, withGeneratedNames(got)); err != nil {
			t.Errorf("Write %v: %v", f, err)
		}
	}
}

func TestWithNodesDropsBadNodes(t *testing.T) {
	hosts := []hostfile.Host{{Addr: addr("192.0.2.10")}}
	got, dropped := withNodes(hosts, func(int) []string {
		return []string{"app", "bad#name", "sp ace", strings.Repeat("n", 250)} // as a hostile epmd may report
	})
	if len(got) != 1 || got[0].Node != "app@192.0.2.10" || len(dropped) != 3 {
		t.Errorf("withNodes = %+v, dropped %v; want app@192.0.2.10 only, 3 dropped", got, dropped)
	}
}

func TestKeepClampsFutureLastSeen(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	prev := []hostfile.Host{{Addr: addr("192.0.2.11"), LastSeen: now.Add(100 * 365 * 24 * time.Hour)}}
	out, state := keep(prev, nil, now, 24*time.Hour)
	if len(out) != 1 || len(state) != 1 || !state[0].LastSeen.Equal(now) {
		t.Fatalf("keep = %+v, state %+v; want the host kept, last seen now", out, state)
	}
	// A day later the host has been away for the whole window: it goes.
	out, _ = keep(state, nil, now.Add(25*time.Hour), 24*time.Hour)
	if len(out) != 0 {
		t.Errorf("keep a day later = %+v, want nothing", out)
	}
}

func TestParseDNS(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":          "192.0.2.1:53",
		"192.0.2.1:5353":     "192.0.2.1:5353",
		"2001:db8::1":        "[2001:db8::1]:53",
		"[2001:db8::1]:5300": "[2001:db8::1]:5300",
		"::ffff:192.0.2.1":   "192.0.2.1:53",
	} {
		got, err := parseDNS(in)
		if err != nil || len(got) != 1 || got[0].String() != want {
			t.Errorf("parseDNS(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
}

func TestMergeIPv6(t *testing.T) {
	macC := net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x53, 0x03}
	macD := net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x53, 0x04}
	link := linkResult{
		plan: lanPlan("192.0.2.10", "192.0.2.11"),
		arp: []scan.ARPReply{
			{Addr: addr("192.0.2.10"), MAC: macA},
			{Addr: addr("192.0.2.11"), MAC: macB},
		},
		ipv6: []scan.IPv6Neighbor{
			{Addr: addr("fe80::a%eth0"), MAC: macA},
			{Addr: addr("2001:db8::a"), MAC: macA},
			{Addr: addr("fe80::c%eth0"), MAC: macC},
			{Addr: addr("fd00:db8::c"), MAC: macC},
			{Addr: addr("fe80::d%eth0"), MAC: macD},
		},
		self6: []netip.Addr{addr("fe80::1%eth0"), addr("2001:db8::1")},
	}
	vendor := func(m net.HardwareAddr) string { return "V" + m.String()[15:] }
	tests := []struct {
		name string
		self bool
		want []hostfile.Host
	}{
		{name: "with_self", self: true, want: []hostfile.Host{
			{Addr: addr("192.0.2.1"), MAC: macS, Vendor: "Vff", Names: []string{"box"}, Sources: src("box", "self"), Self: true,
				IPv6: []netip.Addr{addr("fe80::1%eth0"), addr("2001:db8::1")}},
			{Addr: addr("192.0.2.10"), MAC: macA, Vendor: "V01", IPv6: []netip.Addr{addr("fe80::a%eth0"), addr("2001:db8::a")}},
			{Addr: addr("192.0.2.11"), MAC: macB, Vendor: "V02"},
			{Addr: addr("fd00:db8::c"), MAC: macC, Vendor: "V03", IPv6: []netip.Addr{addr("fe80::c%eth0"), addr("fd00:db8::c")}},
			{Addr: addr("fe80::d%eth0"), MAC: macD, Vendor: "V04", IPv6: []netip.Addr{addr("fe80::d%eth0")}},
		}},
		{name: "no_self", self: false, want: []hostfile.Host{
			{Addr: addr("192.0.2.10"), MAC: macA, Vendor: "V01", IPv6: []netip.Addr{addr("fe80::a%eth0"), addr("2001:db8::a")}},
			{Addr: addr("192.0.2.11"), MAC: macB, Vendor: "V02"},
			{Addr: addr("fd00:db8::c"), MAC: macC, Vendor: "V03", IPv6: []netip.Addr{addr("fe80::c%eth0"), addr("fd00:db8::c")}},
			{Addr: addr("fe80::d%eth0"), MAC: macD, Vendor: "V04", IPv6: []netip.Addr{addr("fe80::d%eth0")}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := merge([]linkResult{link}, tt.self, "box", vendor)
			if diff := cmp.Diff(tt.want, got, addrEq); diff != "" {
				t.Errorf("merge (-want +got):\n%s", diff)
			}
		})
	}
}

// An IPv6 address joins a host of its own link only.
func TestMergeIPv6PerLink(t *testing.T) {
	eth0 := linkResult{plan: lanPlan("192.0.2.10"), arp: []scan.ARPReply{{Addr: addr("192.0.2.10"), MAC: macA}}}
	eth1 := linkResult{
		plan: scan.Plan{Iface: scan.Iface{Name: "eth1", MAC: macB}},
		ipv6: []scan.IPv6Neighbor{{Addr: addr("2001:db8:1::a"), MAC: macA}},
	}
	got, _ := merge([]linkResult{eth0, eth1}, false, "box", func(net.HardwareAddr) string { return "" })
	want := []hostfile.Host{
		{Addr: addr("192.0.2.10"), MAC: macA},
		{Addr: addr("2001:db8:1::a"), MAC: macA, IPv6: []netip.Addr{addr("2001:db8:1::a")}},
	}
	if diff := cmp.Diff(want, got, addrEq); diff != "" {
		t.Errorf("merge (-want +got):\n%s", diff)
	}
}

// mDNS names reach hosts by the IPv6 addresses of their AAAA records, and
// reverse DNS by an IPv6-only host's global address.
func TestMergeNamesIPv6Hosts(t *testing.T) {
	macC := net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x53, 0x03}
	link := linkResult{
		plan: lanPlan("192.0.2.10"),
		arp:  []scan.ARPReply{{Addr: addr("192.0.2.10"), MAC: macA}},
		ipv6: []scan.IPv6Neighbor{
			{Addr: addr("fe80::b%eth0"), MAC: macB},
			{Addr: addr("2001:db8::b"), MAC: macB},
			{Addr: addr("fd00:db8::c"), MAC: macC},
		},
		mdns: []scan.MDNSHost{
			// IPv6-only host B, by its link-local address.
			{Addr: addr("fe80::b%eth0"), Names: []string{"labhost6.local"}, Services: []string{"_ssh._tcp"}, IPv6: []netip.Addr{addr("fe80::b%eth0")}},
			// Host C's IPv4 address is not swept: its IPv6 address names it.
			{Addr: addr("198.51.100.3"), Names: []string{"labhost7.local"}, IPv6: []netip.Addr{addr("fd00:db8::c")}},
			// Nobody has this address: no host is made for it.
			{Addr: addr("2001:db8::99"), Names: []string{"ghost.local"}, IPv6: []netip.Addr{addr("2001:db8::99")}},
		},
		names: unicastNames{rdns: []scan.RDNSHost{{Addr: addr("2001:db8::b"), Names: []string{"six.example.net"}}}},
	}
	got, _ := merge([]linkResult{link}, false, "box", func(net.HardwareAddr) string { return "" })
	want := []hostfile.Host{
		{Addr: addr("192.0.2.10"), MAC: macA},
		{Addr: addr("2001:db8::b"), MAC: macB, IPv6: []netip.Addr{addr("fe80::b%eth0"), addr("2001:db8::b")},
			Names: []string{"labhost6.local", "six.example.net"}, Services: []string{"_ssh._tcp"},
			Sources: map[string]string{"labhost6.local": "mdns", "six.example.net": "dns"}},
		{Addr: addr("fd00:db8::c"), MAC: macC, IPv6: []netip.Addr{addr("fd00:db8::c")},
			Names: []string{"labhost7.local"}, Sources: src("labhost7.local", "mdns")},
	}
	if diff := cmp.Diff(want, got, addrEq); diff != "" {
		t.Errorf("merge (-want +got):\n%s", diff)
	}
}

func TestIPv6OnlyAddrs(t *testing.T) {
	arp := []scan.ARPReply{{Addr: addr("192.0.2.10"), MAC: macA}}
	ipv6 := []scan.IPv6Neighbor{
		{Addr: addr("2001:db8::a"), MAC: macA},  // dual-stack: asked by IPv4
		{Addr: addr("fe80::b%eth0"), MAC: macB}, // link-local: no DNS name
		{Addr: addr("2001:db8::b"), MAC: macB},
		{Addr: addr("fd00:db8::b"), MAC: macB},
	}
	want := []netip.Addr{addr("2001:db8::b"), addr("fd00:db8::b")}
	if diff := cmp.Diff(want, ipv6OnlyAddrs(arp, ipv6), addrEq); diff != "" {
		t.Errorf("ipv6OnlyAddrs (-want +got):\n%s", diff)
	}
}
