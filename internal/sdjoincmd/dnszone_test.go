package sdjoincmd

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"

	"github.com/ipfinder-go/ipfinder/tracker"
)

// testView is a fixed view of a cluster for a dnsZone: entries and
// members.
type testView struct {
	entries []tracker.Presence
	members []tracker.Member
}

func (v *testView) zone(ttl uint32) *dnsZone {
	return &dnsZone{domain: "sdjoin.", ttl: ttl, list: v.listLabel, members: func() []tracker.Member { return v.members }}
}

// listLabel is core.listLabel over the fixed entries.
func (v *testView) listLabel(label string) []tracker.Presence {
	var out []tracker.Presence
	for _, p := range v.entries {
		if l, ok := serviceLabel(p.Service); ok && l == label {
			out = append(out, p)
		}
	}
	return out
}

func entry(service, node string, addr string, meta map[string]string) tracker.Presence {
	return tracker.Presence{Service: service, Key: "sdjoin", Node: node, Addr: netip.MustParseAddrPort(addr), Meta: meta}
}

func member(node, addr string) tracker.Member {
	return tracker.Member{Name: node, Addr: netip.MustParseAddrPort(addr)}
}

// sampleView: web on three nodes (one IPv6, one without a port), a
// service whose name is no label, one that folds to ASCII only under
// Unicode rules (Kelvin sign), mixed case, and a bad port.
func sampleView() *testView {
	return &testView{
		entries: []tracker.Presence{
			entry("web", "n1@192.0.2.1", "192.0.2.1:7946", map[string]string{"port": "8080"}),
			entry("web", "N2.lab@192.0.2.2", "192.0.2.2:7946", map[string]string{"port": "8081"}),
			entry("web", "n3@2001:db8::3", "[2001:db8::3]:7946", map[string]string{"port": "8082"}),
			entry("web", "n4@192.0.2.4", "192.0.2.4:7946", nil),
			entry("DB", "n1@192.0.2.1", "192.0.2.1:7946", map[string]string{"port": "5432"}),
			entry("db", "n4@192.0.2.4", "192.0.2.4:7946", map[string]string{"port": "0"}),
			entry("my web", "n1@192.0.2.1", "192.0.2.1:7946", map[string]string{"port": "80"}),
			entry("\u212Aey", "n1@192.0.2.1", "192.0.2.1:7946", map[string]string{"port": "80"}),
			entry("big", "n1@192.0.2.1", "192.0.2.1:7946", map[string]string{"port": "99999"}),
		},
		members: []tracker.Member{
			member("n1@192.0.2.1", "192.0.2.1:7946"),
			member("N2.lab@192.0.2.2", "192.0.2.2:7946"),
			member("n3@2001:db8::3", "[2001:db8::3]:7946"),
			member("n4@192.0.2.4", "192.0.2.4:7946"),
			member("twin@192.0.2.5", "192.0.2.5:7946"),
			member("twin@192.0.2.6", "192.0.2.6:7946"),
			member("bad\nname@192.0.2.7", "192.0.2.7:7946"),
		},
	}
}

// ask builds a query for name and type, with EDNS0 of size bufsize
// unless it is 0.
func ask(name string, qtype uint16, bufsize uint16) *dns.Msg {
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	if bufsize > 0 {
		q.SetEdns0(bufsize, false)
	}
	return q
}

// replyTo returns z's reply to q as the client gets it (nil for none).
func replyTo(t testing.TB, z *dnsZone, q *dns.Msg, tcp bool) *dns.Msg {
	t.Helper()
	b := z.respond(q, tcp)
	if b == nil {
		return nil
	}
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		t.Fatalf("reply does not unpack: %v", err)
	}
	return m
}

// rrStrings returns rrs as zone-file lines, sorted, without OPT.
func rrStrings(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		if rr.Header().Rrtype != dns.TypeOPT {
			out = append(out, strings.ReplaceAll(rr.String(), "\t", " "))
		}
	}
	sort.Strings(out)
	return out
}

func TestDNSZoneAnswers(t *testing.T) {
	z := sampleView().zone(0)
	soa := []string{"sdjoin. 0 IN SOA ns.sdjoin. hostmaster.sdjoin. 1 3600 600 86400 0"}
	for _, tt := range []struct {
		name       string
		qname      string
		qtype      uint16
		rcode      int
		answer     []string
		extra      []string
		authority  []string
		notAuthori bool
	}{
		{name: "service_a_distinct_ipv4", qname: "web.service.sdjoin.", qtype: dns.TypeA,
			answer: []string{"web.service.sdjoin. 0 IN A 192.0.2.1", "web.service.sdjoin. 0 IN A 192.0.2.2", "web.service.sdjoin. 0 IN A 192.0.2.4"}},
		{name: "service_aaaa", qname: "web.service.sdjoin.", qtype: dns.TypeAAAA,
			answer: []string{"web.service.sdjoin. 0 IN AAAA 2001:db8::3"}},
		{name: "service_srv_with_ports_only", qname: "web.service.sdjoin.", qtype: dns.TypeSRV,
			answer: []string{
				"web.service.sdjoin. 0 IN SRV 1 1 8080 n1-at-192-0-2-1.node.sdjoin.",
				"web.service.sdjoin. 0 IN SRV 1 1 8081 n2-lab-at-192-0-2-2.node.sdjoin.",
				"web.service.sdjoin. 0 IN SRV 1 1 8082 n3-at-2001-db8--3.node.sdjoin.",
			},
			extra: []string{
				"n1-at-192-0-2-1.node.sdjoin. 0 IN A 192.0.2.1",
				"n2-lab-at-192-0-2-2.node.sdjoin. 0 IN A 192.0.2.2",
				"n3-at-2001-db8--3.node.sdjoin. 0 IN AAAA 2001:db8::3",
			}},
		{name: "case_insensitive_query_echoes_case", qname: "WeB.SERVICE.Sdjoin.", qtype: dns.TypeA,
			answer: []string{"WeB.SERVICE.Sdjoin. 0 IN A 192.0.2.1", "WeB.SERVICE.Sdjoin. 0 IN A 192.0.2.2", "WeB.SERVICE.Sdjoin. 0 IN A 192.0.2.4"}},
		{name: "services_differing_in_case_merge", qname: "db.service.sdjoin.", qtype: dns.TypeA,
			answer: []string{"db.service.sdjoin. 0 IN A 192.0.2.1", "db.service.sdjoin. 0 IN A 192.0.2.4"}},
		{name: "port_0_no_srv", qname: "db.service.sdjoin.", qtype: dns.TypeSRV,
			answer: []string{"db.service.sdjoin. 0 IN SRV 1 1 5432 n1-at-192-0-2-1.node.sdjoin."},
			extra:  []string{"n1-at-192-0-2-1.node.sdjoin. 0 IN A 192.0.2.1"}},
		{name: "rfc2782_srv", qname: "_web._tcp.service.sdjoin.", qtype: dns.TypeSRV,
			answer: []string{
				"_web._tcp.service.sdjoin. 0 IN SRV 1 1 8080 n1-at-192-0-2-1.node.sdjoin.",
				"_web._tcp.service.sdjoin. 0 IN SRV 1 1 8081 n2-lab-at-192-0-2-2.node.sdjoin.",
				"_web._tcp.service.sdjoin. 0 IN SRV 1 1 8082 n3-at-2001-db8--3.node.sdjoin.",
			},
			extra: []string{
				"n1-at-192-0-2-1.node.sdjoin. 0 IN A 192.0.2.1",
				"n2-lab-at-192-0-2-2.node.sdjoin. 0 IN A 192.0.2.2",
				"n3-at-2001-db8--3.node.sdjoin. 0 IN AAAA 2001:db8::3",
			}},
		{name: "rfc2782_udp_case_insensitive", qname: "_DB._UDP.service.sdjoin.", qtype: dns.TypeSRV,
			answer: []string{"_DB._UDP.service.sdjoin. 0 IN SRV 1 1 5432 n1-at-192-0-2-1.node.sdjoin."},
			extra:  []string{"n1-at-192-0-2-1.node.sdjoin. 0 IN A 192.0.2.1"}},
		{name: "rfc2782_unknown_service_nxdomain", qname: "_nosuch._tcp.service.sdjoin.", qtype: dns.TypeSRV, rcode: dns.RcodeNameError, authority: soa},
		{name: "rfc2782_other_protocol_nxdomain", qname: "_web._sctp.service.sdjoin.", qtype: dns.TypeSRV, rcode: dns.RcodeNameError, authority: soa},
		{name: "rfc2782_without_underscore_nxdomain", qname: "web._tcp.service.sdjoin.", qtype: dns.TypeSRV, rcode: dns.RcodeNameError, authority: soa},
		{name: "rfc2782_protocol_label_nodata", qname: "_tcp.service.sdjoin.", qtype: dns.TypeSRV, authority: soa},
		{name: "port_over_65535_nodata", qname: "big.service.sdjoin.", qtype: dns.TypeSRV, authority: soa},
		{name: "service_ipv6_only_a_nodata", qname: "web.service.sdjoin.", qtype: dns.TypeTXT, authority: soa},
		{name: "any_noerror_empty", qname: "web.service.sdjoin.", qtype: dns.TypeANY, authority: soa},
		{name: "unknown_service_nxdomain", qname: "nosuch.service.sdjoin.", qtype: dns.TypeA, rcode: dns.RcodeNameError, authority: soa},
		{name: "name_not_a_label_nxdomain", qname: "my\\ web.service.sdjoin.", qtype: dns.TypeA, rcode: dns.RcodeNameError, authority: soa},
		{name: "kelvin_sign_does_not_fold_to_key", qname: "key.service.sdjoin.", qtype: dns.TypeA, rcode: dns.RcodeNameError, authority: soa},
		{name: "node_full_label", qname: "n2-lab-at-192-0-2-2.node.sdjoin.", qtype: dns.TypeA,
			answer: []string{"n2-lab-at-192-0-2-2.node.sdjoin. 0 IN A 192.0.2.2"}},
		{name: "node_short_name_when_unique", qname: "n3.node.sdjoin.", qtype: dns.TypeAAAA,
			answer: []string{"n3.node.sdjoin. 0 IN AAAA 2001:db8::3"}},
		{name: "node_short_name_twice_nxdomain", qname: "twin.node.sdjoin.", qtype: dns.TypeA, rcode: dns.RcodeNameError, authority: soa},
		{name: "node_twin_full_label", qname: "twin-at-192-0-2-6.node.sdjoin.", qtype: dns.TypeA,
			answer: []string{"twin-at-192-0-2-6.node.sdjoin. 0 IN A 192.0.2.6"}},
		{name: "node_wrong_family_nodata", qname: "n1.node.sdjoin.", qtype: dns.TypeAAAA, authority: soa},
		{name: "node_bad_name_skipped", qname: "bad-name-at-192-0-2-7.node.sdjoin.", qtype: dns.TypeA, rcode: dns.RcodeNameError, authority: soa},
		{name: "unknown_node_nxdomain", qname: "n9.node.sdjoin.", qtype: dns.TypeA, rcode: dns.RcodeNameError, authority: soa},
		{name: "apex_soa", qname: "sdjoin.", qtype: dns.TypeSOA, answer: soa},
		{name: "apex_a_nodata", qname: "sdjoin.", qtype: dns.TypeA, authority: soa},
		{name: "empty_non_terminal_nodata", qname: "service.sdjoin.", qtype: dns.TypeA, authority: soa},
		{name: "too_deep_nxdomain", qname: "x.web.service.sdjoin.", qtype: dns.TypeA, rcode: dns.RcodeNameError, authority: soa},
		{name: "other_label_nxdomain", qname: "web.nodes.sdjoin.", qtype: dns.TypeA, rcode: dns.RcodeNameError, authority: soa},
		{name: "other_zone_refused", qname: "example.com.", qtype: dns.TypeA, rcode: dns.RcodeRefused, notAuthori: true},
		{name: "suffix_not_zone_refused", qname: "web.service.notsdjoin.", qtype: dns.TypeA, rcode: dns.RcodeRefused, notAuthori: true},
		{name: "root_refused", qname: ".", qtype: dns.TypeNS, rcode: dns.RcodeRefused, notAuthori: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := ask(tt.qname, tt.qtype, 0)
			m := replyTo(t, z, q, false)
			if m.Rcode != tt.rcode {
				t.Errorf("rcode %s, want %s", dns.RcodeToString[m.Rcode], dns.RcodeToString[tt.rcode])
			}
			if m.Authoritative == tt.notAuthori {
				t.Errorf("AA = %v", m.Authoritative)
			}
			if m.Id != q.Id || !m.Response || m.Truncated || len(m.Question) != 1 || m.Question[0] != q.Question[0] {
				t.Errorf("header: %s", m)
			}
			if diff := cmp.Diff(tt.answer, rrStrings(m.Answer)); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.extra, rrStrings(m.Extra)); diff != "" {
				t.Errorf("additional (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.authority, rrStrings(m.Ns)); diff != "" {
				t.Errorf("authority (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDNSZoneTTLAndDomain(t *testing.T) {
	v := sampleView()
	z := &dnsZone{domain: "consul.lan.", ttl: 30, list: v.listLabel, members: func() []tracker.Member { return v.members }}
	m := replyTo(t, z, ask("n1.node.Consul.LAN.", dns.TypeA, 0), false)
	want := []string{"n1.node.Consul.LAN. 30 IN A 192.0.2.1"}
	if diff := cmp.Diff(want, rrStrings(m.Answer)); diff != "" {
		t.Errorf("answer (-want +got):\n%s", diff)
	}
	m = replyTo(t, z, ask("nosuch.node.consul.lan.", dns.TypeA, 0), false)
	if want := []string{"consul.lan. 30 IN SOA ns.consul.lan. hostmaster.consul.lan. 1 3600 600 86400 30"}; !slices.Equal(rrStrings(m.Ns), want) {
		t.Errorf("authority %q, want %q", rrStrings(m.Ns), want)
	}
	if m := replyTo(t, z, ask("web.service.sdjoin.", dns.TypeA, 0), false); m.Rcode != dns.RcodeRefused {
		t.Errorf("sdjoin. under --dns-domain consul.lan: %s, want REFUSED", dns.RcodeToString[m.Rcode])
	}
}

func TestDNSZoneHeaderErrors(t *testing.T) {
	z := sampleView().zone(0)
	notify := ask("sdjoin.", dns.TypeSOA, 0)
	notify.Opcode = dns.OpcodeNotify
	two := ask("web.service.sdjoin.", dns.TypeA, 0)
	two.Question = append(two.Question, two.Question[0])
	none := ask("web.service.sdjoin.", dns.TypeA, 0)
	none.Question = nil
	vers := ask("web.service.sdjoin.", dns.TypeA, 1232)
	vers.IsEdns0().SetVersion(1)
	for _, tt := range []struct {
		name  string
		q     *dns.Msg
		rcode int
	}{
		{"notify_notimp", notify, dns.RcodeNotImplemented},
		{"two_questions_formerr", two, dns.RcodeFormatError},
		{"no_question_formerr", none, dns.RcodeFormatError},
		{"edns_version_1_badvers", vers, dns.RcodeBadVers},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := replyTo(t, z, tt.q, false)
			if m.Rcode != tt.rcode || len(m.Answer) != 0 {
				t.Errorf("rcode %s with %d answers, want %s and none", dns.RcodeToString[m.Rcode], len(m.Answer), dns.RcodeToString[tt.rcode])
			}
			if _, err := m.Pack(); err != nil {
				t.Errorf("reply does not pack: %v", err)
			}
		})
	}
	resp := ask("web.service.sdjoin.", dns.TypeA, 0)
	resp.Response = true
	if m := replyTo(t, z, resp, false); m != nil {
		t.Errorf("reply to a response: %s, want none", m)
	}
}

// manyView is service "many" with n providers on n nodes, each with a
// port.
func manyView(n int) *testView {
	v := &testView{}
	for i := range n {
		ip := netip.AddrFrom4([4]byte{198, 51, byte(100 + i/250), byte(1 + i%250)})
		node := fmt.Sprintf("p%d@%s", i, ip)
		v.entries = append(v.entries, entry("many", node, netip.AddrPortFrom(ip, 7946).String(), map[string]string{"port": fmt.Sprint(10000 + i)}))
		v.members = append(v.members, member(node, netip.AddrPortFrom(ip, 7946).String()))
	}
	return v
}

// TestDNSZoneTruncation: 200 SRV answers fit no UDP reply: over UDP the
// reply is cut to 512 bytes, or the EDNS0 size (capped at maxUDPSize),
// with TC set; over TCP all 200 come with their addresses.
func TestDNSZoneTruncation(t *testing.T) {
	z := manyView(200).zone(0)
	for _, tt := range []struct {
		name    string
		bufsize uint16
		tcp     bool
		limit   int
	}{
		{"udp_no_edns_512", 0, false, 512},
		{"udp_edns_1232", 1232, false, 1232},
		{"udp_edns_below_512_is_512", 100, false, 512},
		{"udp_edns_65000_capped", 65000, false, maxUDPSize},
		{"tcp_everything", 1232, true, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := z.respond(ask("many.service.sdjoin.", dns.TypeSRV, tt.bufsize), tt.tcp)
			m := new(dns.Msg)
			if err := m.Unpack(b); err != nil {
				t.Fatal(err)
			}
			if tt.tcp {
				if m.Truncated || len(m.Answer) != 200 || len(m.Extra) != 201 {
					t.Errorf("TCP: TC %v, %d answers, %d additional; want all 200 and their 200 addresses + OPT", m.Truncated, len(m.Answer), len(m.Extra))
				}
				return
			}
			if len(b) > tt.limit || len(b) < tt.limit-100 {
				t.Errorf("UDP reply of %d bytes, want at most %d, and filled", len(b), tt.limit)
			}
			if !m.Truncated || len(m.Answer) == 0 || len(m.Answer) >= 200 {
				t.Errorf("TC %v with %d answers, want TC and some", m.Truncated, len(m.Answer))
			}
			if (tt.bufsize > 0) != (m.IsEdns0() != nil) {
				t.Errorf("OPT in reply %v, in query %v", m.IsEdns0() != nil, tt.bufsize > 0)
			}
		})
	}
}

// TestDNSZoneAdditionalTrimmedWithoutTC: answers that fit with their
// additional addresses cut off are not truncated (RFC 2181 9).
func TestDNSZoneAdditionalTrimmedWithoutTC(t *testing.T) {
	z := manyView(8).zone(0)
	m := replyTo(t, z, ask("many.service.sdjoin.", dns.TypeSRV, 0), false)
	if m.Truncated || len(m.Answer) != 8 || len(m.Extra) == 0 || len(m.Extra) >= 8 {
		t.Errorf("TC %v, %d answers, %d additional; want no TC, 8 answers, some additional but not all", m.Truncated, len(m.Answer), len(m.Extra))
	}
	for i, rr := range m.Extra { // the addresses of the first targets
		if rr.Header().Name != m.Answer[i].(*dns.SRV).Target {
			t.Errorf("additional %d is %s, want the address of %s", i, rr.Header().Name, m.Answer[i].(*dns.SRV).Target)
		}
	}
}

// TestDNSZoneShuffles: the order of the answers changes between queries.
func TestDNSZoneShuffles(t *testing.T) {
	z := manyView(8).zone(0)
	first := replyTo(t, z, ask("many.service.sdjoin.", dns.TypeA, 0), false).Answer
	for range 50 {
		if got := replyTo(t, z, ask("many.service.sdjoin.", dns.TypeA, 0), false).Answer; got[0].String() != first[0].String() {
			return
		}
	}
	t.Errorf("50 queries all answered %s first", first[0])
}

func TestDNSLabels(t *testing.T) {
	for _, tt := range []struct {
		node, full, short string
	}{
		{"node1@10.0.0.1", "node1-at-10-0-0-1", "node1"},
		{"Web.Lab_1@192.0.2.9", "web-lab-1-at-192-0-2-9", "web-lab-1"},
		{"n@2001:db8::1", "n-at-2001-db8--1", "n"},
		{"n@::ffff:192.0.2.1", "n-at-192-0-2-1", "n"},
		{"-lead@192.0.2.1", "", ""},
		{"a@b@192.0.2.1", "", ""},
		{"n@fe80::1%eth0", "", ""},
		{"n@host.lan", "", ""},
		{"noat", "", ""},
		{"caf\u00e9@192.0.2.1", "", ""},
		{strings.Repeat("x", 50) + "@192.0.2.1", strings.Repeat("x", 50) + "-at-192-0-2-1", strings.Repeat("x", 50)},
		{strings.Repeat("x", 51) + "@192.0.2.10", "", strings.Repeat("x", 51)},
		{strings.Repeat("x", 64) + "@192.0.2.1", "", ""},
	} {
		full, ok := nodeLabel(tt.node)
		if !ok {
			full = ""
		}
		short, ok := shortLabel(tt.node)
		if !ok {
			short = ""
		}
		if full != tt.full || short != tt.short {
			t.Errorf("%q: labels %q, %q; want %q, %q", tt.node, full, short, tt.full, tt.short)
		}
	}
	for _, tt := range []struct {
		service, label string
	}{
		{"web", "web"}, {"Web-API", "web-api"}, {"_sip", "_sip"},
		{"my web", ""}, {"a.b", ""}, {"-x", ""}, {"", ""}, {"\u212Aey", ""}, {"wéb", ""}, {strings.Repeat("s", 64), ""},
	} {
		l, ok := serviceLabel(tt.service)
		if !ok {
			l = ""
		}
		if l != tt.label {
			t.Errorf("serviceLabel(%q) = %q, want %q", tt.service, l, tt.label)
		}
	}
}

// FuzzDNSRequest: any packet the server can unpack gets a reply that
// unpacks, keeps the ID and question, fits its transport, and REFUSED
// outside the zone; responses get none; nothing panics.
func FuzzDNSRequest(f *testing.F) {
	for _, q := range []*dns.Msg{
		ask("web.service.sdjoin.", dns.TypeSRV, 0),
		ask("many.service.sdjoin.", dns.TypeSRV, 1232),
		ask("n1.node.sdjoin.", dns.TypeA, 4096),
		ask("sdjoin.", dns.TypeSOA, 0),
		ask("example.com.", dns.TypeANY, 0),
		ask("many.service.sdjoin.", dns.TypeA, 512),
		ask("_many._tcp.service.sdjoin.", dns.TypeSRV, 0),
		ask("_tcp.service.sdjoin.", dns.TypeSRV, 0),
	} {
		b, err := q.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false)
		f.Add(b, true)
	}
	v := sampleView()
	mv := manyView(200)
	v.entries = append(v.entries, mv.entries...)
	v.members = append(v.members, mv.members...)
	z := v.zone(0)
	f.Fuzz(func(t *testing.T, in []byte, tcp bool) {
		req := new(dns.Msg)
		if req.Unpack(in) != nil {
			return
		}
		b := z.respond(req, tcp)
		if req.Response {
			if b != nil {
				t.Fatalf("reply to a response: %x", b)
			}
			return
		}
		m := new(dns.Msg)
		if err := m.Unpack(b); err != nil {
			t.Fatalf("reply does not unpack: %v", err)
		}
		limit := maxTCPSize
		if !tcp {
			limit = dns.MinMsgSize
			if opt := req.IsEdns0(); opt != nil {
				limit = min(max(int(opt.UDPSize()), dns.MinMsgSize), maxUDPSize)
			}
		}
		if len(b) > limit {
			t.Fatalf("reply of %d bytes, limit %d", len(b), limit)
		}
		if m.Id != req.Id || (len(req.Question) > 0 && m.Question[0] != req.Question[0]) {
			t.Fatalf("reply header or question differs:\n%s\n%s", req, m)
		}
		if req.Opcode == dns.OpcodeQuery && len(req.Question) == 1 && !dns.IsSubDomain("sdjoin.", strings.ToLower(req.Question[0].Name)) && m.Rcode != dns.RcodeRefused && m.Rcode != dns.RcodeBadVers {
			t.Fatalf("query outside the zone answered %s", dns.RcodeToString[m.Rcode])
		}
	})
}

// TestDNSCacheFollowsHub: the cache reads the core once between
// changes, and a join the hub reports (a new service, mixed case) or a
// leave shows in the next lookup.
func TestDNSCacheFollowsHub(t *testing.T) {
	v := &testView{}
	var mu sync.Mutex
	reads := 0
	services := func() []string {
		mu.Lock()
		defer mu.Unlock()
		reads++
		var out []string
		for _, p := range v.entries {
			if !slices.Contains(out, p.Service) {
				out = append(out, p.Service)
			}
		}
		return out
	}
	list := func(names []string) []tracker.Presence {
		mu.Lock()
		defer mu.Unlock()
		var out []tracker.Presence
		for _, p := range v.entries {
			if slices.Contains(names, p.Service) {
				out = append(out, p)
			}
		}
		return out
	}
	h := newHub()
	cache := &dnsCache{services: services, list: list}
	defer h.register("", func(int) handler { return cache })()
	if ps := cache.lookup("api"); len(ps) != 0 {
		t.Fatalf("empty view: %v", ps)
	}
	p := entry("Api", "n1@192.0.2.1", "192.0.2.1:7946", map[string]string{"port": "80"})
	p.Ref = tracker.Ref{Node: p.Node, Boot: 1, Version: 1}
	mu.Lock()
	v.entries = append(v.entries, p)
	mu.Unlock()
	h.applyDiff(tracker.Diff{Service: "Api", Joins: []tracker.Presence{p}})
	for range 3 {
		if ps := cache.lookup("api"); len(ps) != 1 || ps[0].Service != "Api" {
			t.Fatalf("after the join: %v, want Api's entry", ps)
		}
	}
	if reads != 2 {
		t.Errorf("%d reads of the services for two views, want 2", reads)
	}
	mu.Lock()
	v.entries = nil
	mu.Unlock()
	h.applyDiff(tracker.Diff{Service: "Api", Leaves: []tracker.Presence{p}})
	if ps := cache.lookup("api"); len(ps) != 0 {
		t.Errorf("after the leave: %v, want none", ps)
	}
}

// TestDNSZoneSRVSetFollowsList: the SRV records built from a list result
// are reused while list returns that same slice and rebuilt as soon as it
// returns another, and concurrent queries share them safely (-race).
func TestDNSZoneSRVSetFollowsList(t *testing.T) {
	var mu sync.Mutex
	cur := []tracker.Presence{
		entry("web", "a@10.0.0.1", "10.0.0.1:7946", map[string]string{"port": "80"}),
		entry("web", "b@10.0.0.2", "10.0.0.2:7946", map[string]string{"port": "81"}),
	}
	z := &dnsZone{domain: "sdjoin.", list: func(string) []tracker.Presence {
		mu.Lock()
		defer mu.Unlock()
		return cur
	}}
	ports := func() []uint16 {
		m := replyTo(t, z, ask("web.service.sdjoin.", dns.TypeSRV, 0), false)
		var ps []uint16
		for _, rr := range m.Answer {
			ps = append(ps, rr.(*dns.SRV).Port)
		}
		if len(m.Extra) != len(m.Answer) {
			t.Errorf("%d additional records for %d SRV of distinct nodes", len(m.Extra), len(m.Answer))
		}
		slices.Sort(ps)
		return ps
	}
	if got := ports(); !slices.Equal(got, []uint16{80, 81}) {
		t.Fatalf("ports %v, want [80 81]", got)
	}
	first := z.srvSet("web.service.sdjoin.", cur)
	if again := z.srvSet("web.service.sdjoin.", cur); again != first {
		t.Error("SRV set rebuilt for the same list result")
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if got := ports(); len(got) != 2 {
					t.Errorf("concurrent query: ports %v", got)
					return
				}
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	cur = []tracker.Presence{cur[0], entry("web", "b@10.0.0.2", "10.0.0.2:7946", map[string]string{"port": "8081"})}
	mu.Unlock()
	if got := ports(); !slices.Equal(got, []uint16{80, 8081}) {
		t.Errorf("after the view changed: ports %v, want [80 8081]", got)
	}
}
