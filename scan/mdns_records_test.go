package scan

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/miekg/dns"
)

// rr parses one record in zone file syntax or fails the test.
func rr(t testing.TB, s string) dns.RR {
	t.Helper()
	r, err := dns.NewRR(s)
	if err != nil {
		t.Fatalf("dns.NewRR(%q): %v", s, err)
	}
	return r
}

// response packs an mDNS response: answers, then additional records.
func response(t testing.TB, answers []string, extra ...string) []byte {
	t.Helper()
	m := &dns.Msg{MsgHdr: dns.MsgHdr{Response: true, Authoritative: true}}
	for _, s := range answers {
		m.Answer = append(m.Answer, rr(t, s))
	}
	for _, s := range extra {
		m.Extra = append(m.Extra, rr(t, s))
	}
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// cmpAddr lets cmp compare netip.Addr values.
var cmpAddr = cmpopts.EquateComparable(netip.Addr{})

var testSrc = netip.MustParseAddrPort("192.0.2.2:5353")

// avahi2 is what avahi on labhost2 (192.0.2.2) sends for an instance
// browse of _ssh._tcp: PTR answer; SRV, TXT and A additional.
func avahi2(t testing.TB) []byte {
	return response(t,
		[]string{`_ssh._tcp.local. 120 IN PTR ssh\ on\ labhost2._ssh._tcp.local.`},
		`ssh\ on\ labhost2._ssh._tcp.local. 120 IN SRV 0 0 22 labhost2.local.`,
		`ssh\ on\ labhost2._ssh._tcp.local. 4500 IN TXT ""`,
		`labhost2.local. 120 IN A 192.0.2.2`,
	)
}

func TestMDNSStateHandlePacket(t *testing.T) {
	tests := []struct {
		name       string
		src        netip.AddrPort // zero: testSrc
		packets    [][]byte
		want       []MDNSHost
		wantFollow []dns.Question // follow-ups of the last packet
	}{
		{
			name:       "service_types",
			packets:    [][]byte{response(t, []string{"_services._dns-sd._udp.local. 4500 IN PTR _SSH._tcp.local.", "_services._dns-sd._udp.local. 4500 IN PTR _http._tcp.local."})},
			wantFollow: []dns.Question{question("_ssh._tcp.local.", dns.TypePTR), question("_http._tcp.local.", dns.TypePTR)},
		},
		{
			name:       "instance_with_additionals",
			packets:    [][]byte{avahi2(t)},
			want:       []MDNSHost{{Addr: netip.MustParseAddr("192.0.2.2"), Names: []string{"labhost2.local"}, Services: []string{"_ssh._tcp"}}},
			wantFollow: []dns.Question{reverseQuestion(netip.MustParseAddr("192.0.2.2"))},
		},
		{
			name: "srv_then_a_in_separate_packets",
			packets: [][]byte{
				response(t, []string{"inst._http._tcp.local. 120 IN SRV 0 0 80 LabHost3.local."}),
				response(t, []string{"labhost3.local. 120 IN A 192.0.2.3"}),
			},
			want:       []MDNSHost{{Addr: netip.MustParseAddr("192.0.2.3"), Names: []string{"labhost3.local"}, Services: []string{"_http._tcp"}}},
			wantFollow: []dns.Question{reverseQuestion(netip.MustParseAddr("192.0.2.3"))},
		},
		{
			name:       "srv_without_address_asks_a",
			packets:    [][]byte{response(t, []string{"inst._http._tcp.local. 120 IN SRV 0 0 80 labhost3.local."})},
			wantFollow: []dns.Question{question("labhost3.local.", dns.TypeA), question("labhost3.local.", dns.TypeAAAA)},
		},
		{
			name: "aaaa_in_additionals_joins_the_ipv4_host",
			packets: [][]byte{response(t,
				[]string{`_ssh._tcp.local. 120 IN PTR ssh._ssh._tcp.local.`},
				`ssh._ssh._tcp.local. 120 IN SRV 0 0 22 labhost2.local.`,
				`labhost2.local. 120 IN A 192.0.2.2`,
				`labhost2.local. 120 IN AAAA 2001:db8::2`,
				`labhost2.local. 120 IN AAAA fe80::2`,
				`labhost2.local. 120 IN AAAA fd00::2`,
			)},
			want: []MDNSHost{{Addr: netip.MustParseAddr("192.0.2.2"), Names: []string{"labhost2.local"}, Services: []string{"_ssh._tcp"},
				IPv6: []netip.Addr{netip.MustParseAddr("2001:db8::2"), netip.MustParseAddr("fd00::2"), netip.MustParseAddr("fe80::2")}}},
			wantFollow: []dns.Question{reverseQuestion(netip.MustParseAddr("192.0.2.2"))},
		},
		{
			name: "ipv6_only_host_from_aaaa_answer",
			packets: [][]byte{
				response(t, []string{"inst._http._tcp.local. 120 IN SRV 0 0 80 labhost6.local."}),
				response(t, []string{"labhost6.local. 120 IN AAAA fe80::6", "labhost6.local. 120 IN AAAA 2001:db8::6"}),
			},
			want: []MDNSHost{{Addr: netip.MustParseAddr("2001:db8::6"), Names: []string{"labhost6.local"}, Services: []string{"_http._tcp"},
				IPv6: []netip.Addr{netip.MustParseAddr("2001:db8::6"), netip.MustParseAddr("fe80::6")}}},
		},
		{
			name: "unusable_aaaa_ignored",
			packets: [][]byte{response(t, []string{
				"labhost7.local. 120 IN AAAA ::1",
				"labhost7.local. 120 IN AAAA ::",
				"labhost7.local. 120 IN AAAA ff02::fb",
				"labhost7.local. 120 IN AAAA ::ffff:192.0.2.7",
				"labhost7.local. 0 IN AAAA 2001:db8::7",
				"7.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. 120 IN AAAA 2001:db8::7",
			})},
		},
		{
			name:       "ptr_without_srv_asks_srv",
			packets:    [][]byte{response(t, []string{"_ssh._tcp.local. 120 IN PTR inst._ssh._tcp.local."})},
			wantFollow: []dns.Question{question("inst._ssh._tcp.local.", dns.TypeSRV)},
		},
		{
			name:    "reverse_ptr",
			packets: [][]byte{response(t, []string{"7.2.0.192.in-addr.arpa. 120 IN PTR labhost7.local."})},
			want:    []MDNSHost{{Addr: netip.MustParseAddr("192.0.2.7"), Names: []string{"labhost7.local"}}},
		},
		{
			name: "services_attributed_per_host",
			packets: [][]byte{
				avahi2(t),
				response(t,
					[]string{"_http._tcp.local. 120 IN PTR web._http._tcp.local.", "_ssh._tcp.local. 120 IN PTR ssh3._ssh._tcp.local."},
					"web._http._tcp.local. 120 IN SRV 0 0 80 labhost3.local.",
					"ssh3._ssh._tcp.local. 120 IN SRV 0 0 22 labhost3.local.",
					"labhost3.local. 120 IN A 192.0.2.3",
				),
			},
			want: []MDNSHost{
				{Addr: netip.MustParseAddr("192.0.2.2"), Names: []string{"labhost2.local"}, Services: []string{"_ssh._tcp"}},
				{Addr: netip.MustParseAddr("192.0.2.3"), Names: []string{"labhost3.local"}, Services: []string{"_http._tcp", "_ssh._tcp"}},
			},
			wantFollow: []dns.Question{reverseQuestion(netip.MustParseAddr("192.0.2.3"))},
		},
		{
			name: "cache_flush_class_accepted",
			packets: [][]byte{func() []byte {
				m := &dns.Msg{MsgHdr: dns.MsgHdr{Response: true}}
				m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: "labhost4.local.", Rrtype: dns.TypeA, Class: dns.ClassINET | 1<<15, Ttl: 120}, A: net.IPv4(198, 51, 100, 4)}}
				b, _ := m.Pack()
				return b
			}()},
			want:       []MDNSHost{{Addr: netip.MustParseAddr("198.51.100.4"), Names: []string{"labhost4.local"}}},
			wantFollow: []dns.Question{reverseQuestion(netip.MustParseAddr("198.51.100.4"))},
		},
		{
			name: "query_ignored",
			packets: [][]byte{func() []byte {
				m := new(dns.Msg)
				m.SetQuestion("labhost2.local.", dns.TypeA)
				m.Answer = []dns.RR{rr(t, "labhost2.local. 120 IN A 192.0.2.2")} // a known answer
				b, _ := m.Pack()
				return b
			}()},
		},
		{
			name:    "goodbye_ignored",
			packets: [][]byte{response(t, []string{"labhost2.local. 0 IN A 192.0.2.2"})},
		},
		{
			name: "unsafe_or_useless_records_ignored",
			packets: [][]byte{response(t, []string{
				`bad\ name.local. 120 IN A 192.0.2.2`,
				"multi.local. 120 IN A 224.0.0.251",
				"loop.local. 120 IN A 127.0.0.1",
				"zero.local. 120 IN A 0.0.0.0",
				"_srv.local. 120 IN A 192.0.2.9",
				"07.2.0.192.in-addr.arpa. 120 IN PTR leading-zero.local.",
				"2.0.192.in-addr.arpa. 120 IN PTR short.local.",
				"8.2.0.192.in-addr.arpa. 120 IN PTR x\\;y.local.",
				"_services._dns-sd._udp.local. 120 IN PTR _printer._sub._http._tcp.local.",
				"_services._dns-sd._udp.local. 120 IN PTR _ssh._tcp.example.com.",
				"_services._dns-sd._udp.local. 120 IN PTR _ssh._sctp.local.",
				"_ssh._tcp.local. 120 IN PTR _ssh._tcp.local.",
				"x._ssh._tcp.local. 120 IN SRV 0 0 22 _bad.local.",
				"x._ssh._tcp.local. 120 CH SRV 0 0 22 good.local.",
			})},
		},
		{
			name:    "response_from_other_port_ignored",
			src:     netip.MustParseAddrPort("192.0.2.2:53"),
			packets: [][]byte{avahi2(t)},
		},
		{
			name:    "garbage_ignored",
			packets: [][]byte{nil, {0x00}, []byte("not a dns message at all")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newMDNSState(5353)
			var follow []dns.Question
			src := testSrc
			if tt.src.IsValid() {
				src = tt.src
			}
			for _, p := range tt.packets {
				_, follow = s.handlePacket(p, src)
			}
			if diff := cmp.Diff(tt.want, s.result(), cmpAddr); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantFollow, follow); diff != "" {
				t.Errorf("follow-up questions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMDNSStateAnswered(t *testing.T) {
	s := newMDNSState(5353)
	s.handlePacket(avahi2(t), testSrc)
	s.handlePacket(response(t, []string{"2.0.0.192.in-addr.arpa. 120 IN PTR labhost2.local."}), testSrc)
	s.handlePacket(response(t, []string{"labhost6.local. 120 IN AAAA 2001:db8::6"}), testSrc)
	tests := []struct {
		name string
		q    dns.Question
		want bool
	}{
		{"a_known", question("LabHost2.local.", dns.TypeA), true},
		{"a_unknown", question("labhost9.local.", dns.TypeA), false},
		{"aaaa_known", question("labhost6.local.", dns.TypeAAAA), true},
		{"aaaa_unknown", question("labhost2.local.", dns.TypeAAAA), false},
		{"srv_known", question(`ssh\ on\ labhost2._ssh._tcp.local.`, dns.TypeSRV), true},
		{"srv_unknown", question("x._ssh._tcp.local.", dns.TypeSRV), false},
		{"reverse_known", reverseQuestion(netip.MustParseAddr("192.0.2.2")), true},
		{"reverse_unknown", reverseQuestion(netip.MustParseAddr("192.0.2.9")), false},
		{"browse_never", question("_ssh._tcp.local.", dns.TypePTR), false},
		{"services_never", question(servicesName, dns.TypePTR), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.answered(tt.q); got != tt.want {
				t.Errorf("answered(%v) = %v, want %v", tt.q, got, tt.want)
			}
		})
	}
}

func TestMDNSNames(t *testing.T) {
	tests := []struct {
		name, in, want string
		f              func(string) (string, bool)
	}{
		{"host_lowercased", "LabHost2.local.", "labhost2.local", hostName},
		{"host_no_dot", "labhost2.local", "labhost2.local", hostName},
		{"host_escaped_dot", `a\.b.local.`, "", hostName},
		{"host_empty_label", "a..local.", "", hostName},
		{"host_root", ".", "", hostName},
		{"host_reverse", "2.2.0.192.in-addr.arpa.", "", hostName},
		{"host_reverse6", "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", "", hostName},
		{"host_too_long_label", strings.Repeat("a", 64) + ".local.", "", hostName},
		{"type_ok", "_SSH._tcp.local.", "_ssh._tcp", serviceType},
		{"type_udp", "_ipp._udp.local", "_ipp._udp", serviceType},
		{"type_subtype", "_printer._sub._http._tcp.local.", "", serviceType},
		{"type_no_underscore", "ssh._tcp.local.", "", serviceType},
		{"type_bare_underscore", "_._tcp.local.", "", serviceType},
		{"instance_ok", `ssh\ on\ labhost2._ssh._tcp.local.`, "_ssh._tcp", instanceType},
		{"instance_escaped_dot", `a\.b._http._tcp.local.`, "_http._tcp", instanceType},
		{"instance_missing", "_ssh._tcp.local.", "", instanceType},
		{"instance_other_domain", "x._ssh._tcp.example.", "", instanceType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.f(tt.in)
			if got != tt.want || ok != (tt.want != "") {
				t.Errorf("(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
			}
		})
	}
}

func TestParseReverse(t *testing.T) {
	tests := []struct {
		name, in string
		want     netip.Addr
	}{
		{"ok", "7.2.0.192.in-addr.arpa.", netip.MustParseAddr("192.0.2.7")},
		{"zeros", "0.0.0.0.in-addr.arpa.", netip.MustParseAddr("0.0.0.0")},
		{"roundtrip_255", "255.100.51.198.in-addr.arpa.", netip.MustParseAddr("198.51.100.255")},
		{"leading_zero", "07.2.0.192.in-addr.arpa.", netip.Addr{}},
		{"overflow", "256.2.0.192.in-addr.arpa.", netip.Addr{}},
		{"five_labels", "1.7.2.0.192.in-addr.arpa.", netip.Addr{}},
		{"sign", "+7.2.0.192.in-addr.arpa.", netip.Addr{}},
		{"ip6", "1.0.ip6.arpa.", netip.Addr{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseReverse(tt.in)
			if got != tt.want || ok != tt.want.IsValid() {
				t.Errorf("parseReverse(%q) = %v, %v; want %v", tt.in, got, ok, tt.want)
			}
			if ok && reverseQuestion(got).Name != tt.in {
				t.Errorf("reverseQuestion(%v) = %q, want %q", got, reverseQuestion(got).Name, tt.in)
			}
		})
	}
}

// TestMDNSStateBounded floods the state and checks every limit holds.
func TestMDNSStateBounded(t *testing.T) {
	s := newMDNSState(5353)
	for i := range 3000 {
		a := netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)})
		m := &dns.Msg{MsgHdr: dns.MsgHdr{Response: true}}
		hdr := func(name string, t uint16) dns.RR_Header {
			return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: 120}
		}
		host := "h" + itoa(i) + ".local."
		m.Answer = append(m.Answer,
			&dns.A{Hdr: hdr(host, dns.TypeA), A: a.AsSlice()},
			&dns.A{Hdr: hdr("everyone.local.", dns.TypeA), A: a.AsSlice()},
			&dns.AAAA{Hdr: hdr("v6"+host, dns.TypeAAAA), AAAA: netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(i >> 8), 15: byte(i)}).AsSlice()},
			&dns.AAAA{Hdr: hdr("everyone.local.", dns.TypeAAAA), AAAA: netip.AddrFrom16([16]byte{0xfd, 14: byte(i >> 8), 15: byte(i)}).AsSlice()},
			&dns.PTR{Hdr: hdr("2.0.0.192.in-addr.arpa.", dns.TypePTR), Ptr: host},
			&dns.PTR{Hdr: hdr(reverseQuestion6(netip.AddrFrom16([16]byte{0xfd, 1, 14: byte(i >> 8), 15: byte(i)})).Name, dns.TypePTR), Ptr: "r6" + host},
			&dns.PTR{Hdr: hdr(servicesName, dns.TypePTR), Ptr: "_s" + itoa(i) + "._tcp.local."},
			&dns.SRV{Hdr: hdr("i"+itoa(i)+"._s"+itoa(i)+"._tcp.local.", dns.TypeSRV), Target: "everyone.local."},
		)
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		s.handlePacket(b, testSrc)
	}
	checkBounds(t, s)
	if len(s.hosts) != maxMDNSHosts {
		t.Errorf("hosts = %d, want the limit %d", len(s.hosts), maxMDNSHosts)
	}
	if len(s.name6) != maxMDNSNames || len(s.name6["everyone.local"]) != maxAddrsPerName {
		t.Errorf("names with AAAA = %d, everyone's IPv6 addresses = %d; want the limits %d, %d",
			len(s.name6), len(s.name6["everyone.local"]), maxMDNSNames, maxAddrsPerName)
	}
}

func itoa(i int) string { return netip.AddrFrom4([4]byte{0, 0, byte(i >> 8), byte(i)}).String()[4:] }

func checkBounds(t testing.TB, s *mdnsState) {
	t.Helper()
	if len(s.hosts) > maxMDNSHosts || len(s.nameAddrs) > maxMDNSNames || len(s.instances) > maxMDNSInstances ||
		len(s.types) > maxServiceTypes || len(s.targetTypes) > maxMDNSNames {
		t.Fatalf("limits exceeded: hosts %d names %d instances %d types %d targets %d",
			len(s.hosts), len(s.nameAddrs), len(s.instances), len(s.types), len(s.targetTypes))
	}
	for a, e := range s.hosts {
		if len(e.names) > maxNamesPerHost || len(e.services) > maxServicesPerHost {
			t.Fatalf("%v: %d names, %d services", a, len(e.names), len(e.services))
		}
	}
	for n, addrs := range s.nameAddrs {
		if len(addrs) > maxAddrsPerName {
			t.Fatalf("%s: %d addresses", n, len(addrs))
		}
	}
	if len(s.name6) > maxMDNSNames || len(s.named6) > maxMDNSNames*maxAddrsPerName {
		t.Fatalf("limits exceeded: %d names with AAAA records, %d IPv6 addresses", len(s.name6), len(s.named6))
	}
	for n, addrs := range s.name6 {
		if len(addrs) > maxAddrsPerName {
			t.Fatalf("%s: %d IPv6 addresses", n, len(addrs))
		}
	}
	for n, types := range s.targetTypes {
		if len(types) > maxTypesPerTarget {
			t.Fatalf("%s: %d types", n, len(types))
		}
	}
}

func FuzzMDNSPacket(f *testing.F) {
	f.Add(avahi2(f), []byte{192, 0, 2, 2})
	f.Add(response(f, []string{"_services._dns-sd._udp.local. 4500 IN PTR _ssh._tcp.local."}), []byte{192, 0, 2, 3})
	f.Add(response(f, []string{"7.2.0.192.in-addr.arpa. 120 IN PTR labhost7.local."}), []byte{198, 51, 100, 1})
	f.Add(response(f, []string{"inst._http._tcp.local. 120 IN SRV 0 0 80 labhost3.local."}, "labhost3.local. 120 IN A 192.0.2.3"), []byte{192, 0, 2, 3})
	f.Add(response(f, []string{"inst._http._tcp.local. 120 IN SRV 0 0 80 labhost6.local."},
		"labhost6.local. 120 IN AAAA 2001:db8::6", "labhost6.local. 120 IN AAAA fe80::6"), []byte{192, 0, 2, 6})
	f.Add(response(f, []string{"labhost2.local. 120 IN A 192.0.2.2", "labhost2.local. 120 IN AAAA fd00::2", "labhost2.local. 120 IN AAAA ::1"}), []byte{192, 0, 2, 2})
	f.Add(response(f, []string{"6.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. 120 IN PTR labhost6.local."}), []byte{192, 0, 2, 6})
	f.Add([]byte{}, []byte{})
	for _, pkt := range hostilePackets(f) {
		f.Add(pkt, []byte{192, 0, 2, 66})
	}
	f.Fuzz(func(t *testing.T, pkt, src []byte) {
		a, _ := netip.AddrFromSlice(src)
		s := newMDNSState(5353)
		s.handlePacket(pkt, netip.AddrPortFrom(a, 5353))
		_, follow := s.handlePacket(pkt, netip.AddrPortFrom(a, 5353)) // twice: repeats change nothing new
		for _, q := range follow {
			if q.Qtype == dns.TypeA || q.Qtype == dns.TypeAAAA || q.Qtype == dns.TypeSRV {
				t.Errorf("repeated packet asked %v again", q)
			}
		}
		checkBounds(t, s)
		for _, h := range s.result() {
			if !usableAddr(h.Addr) && !slices.Contains(h.IPv6, h.Addr) {
				t.Errorf("unusable address %v in result", h.Addr)
			}
			for _, a := range h.IPv6 {
				if !usableAddr6(a) {
					t.Errorf("unusable IPv6 address %v in result", a)
				}
			}
			for _, n := range h.Names {
				if got, ok := hostName(n); !ok || got != n {
					t.Errorf("name %q is not normalised", n)
				}
			}
			for _, typ := range h.Services {
				if got, ok := serviceType(typ + ".local."); !ok || got != typ {
					t.Errorf("service %q is not normalised", typ)
				}
			}
		}
	})
}
