package discover

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/miekg/dns"
)

func unpack(t testing.TB, b []byte) *dns.Msg {
	t.Helper()
	var m dns.Msg
	if err := m.Unpack(b); err != nil {
		t.Fatal(err)
	}
	return &m
}

func TestPeers(t *testing.T) {
	addr := netip.MustParseAddrPort("192.0.2.7:7946")
	long := strings.Repeat("x", 250)
	tests := []struct {
		name    string
		ann     announcement
		ttl     uint32
		cluster string
		want    []Peer
	}{
		{name: "same_cluster", ann: announcement{"a@192.0.2.7", addr, "test"}, ttl: ttl, cluster: "test",
			want: []Peer{{Instance: "a@192.0.2.7", Addr: addr}}},
		{name: "no_label", ann: announcement{"a@192.0.2.7", addr, ""}, ttl: ttl, cluster: "",
			want: []Peer{{Instance: "a@192.0.2.7", Addr: addr}}},
		{name: "other_cluster", ann: announcement{"a@192.0.2.7", addr, "prod"}, ttl: ttl, cluster: "test"},
		{name: "labelled_vs_none", ann: announcement{"a@192.0.2.7", addr, "prod"}, ttl: ttl, cluster: ""},
		{name: "long_label", ann: announcement{"a@192.0.2.7", addr, long}, ttl: ttl, cluster: long,
			want: []Peer{{Instance: "a@192.0.2.7", Addr: addr}}},
		{name: "long_label_other", ann: announcement{"a@192.0.2.7", addr, long}, ttl: ttl, cluster: long + "y"},
		{name: "goodbye", ann: announcement{"a@192.0.2.7", addr, "test"}, ttl: 0, cluster: "test",
			want: []Peer{{Instance: "a@192.0.2.7", Gone: true}}},
		{name: "goodbye_other_cluster", ann: announcement{"a@192.0.2.7", addr, "prod"}, ttl: 0, cluster: "test"},
		{name: "odd_name", ann: announcement{`we(i)rd;\"$.x`, addr, "test"}, ttl: ttl, cluster: "test",
			want: []Peer{{Instance: `we(i)rd;\"$.x`, Addr: addr}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.ann.response(tt.ttl)
			if err != nil {
				t.Fatal(err)
			}
			got := peers(unpack(t, b), tt.cluster, maxPeersPerPacket)
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateComparable(netip.AddrPort{})); diff != "" {
				t.Errorf("peers (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPeersRejects: records other agents could send that must not be
// joined.
func TestPeersRejects(t *testing.T) {
	ann := announcement{"a", netip.MustParseAddrPort("192.0.2.7:7946"), "test"}
	tests := []struct {
		name   string
		mangle func(m *dns.Msg)
	}{
		{name: "no_version", mangle: func(m *dns.Msg) { m.Answer[2].(*dns.TXT).Txt = []string{"cluster=test"} }},
		{name: "other_version", mangle: func(m *dns.Msg) { m.Answer[2].(*dns.TXT).Txt = []string{"cluster=test", "v=2"} }},
		{name: "no_a", mangle: func(m *dns.Msg) { m.Answer = m.Answer[:3] }},
		{name: "loopback_a", mangle: func(m *dns.Msg) { m.Answer[3].(*dns.A).A = []byte{127, 0, 0, 1} }},
		{name: "port_zero", mangle: func(m *dns.Msg) { m.Answer[1].(*dns.SRV).Port = 0 }},
		{name: "query", mangle: func(m *dns.Msg) { m.Response = false }},
		{name: "other_service", mangle: func(m *dns.Msg) { m.Answer[0].(*dns.PTR).Ptr = "a._http._tcp.local." }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := ann.response(ttl)
			if err != nil {
				t.Fatal(err)
			}
			m := unpack(t, b)
			tt.mangle(m)
			if got := peers(m, "test", maxPeersPerPacket); len(got) != 0 {
				t.Errorf("peers = %v, want none", got)
			}
		})
	}
}

// TestPeersBound: one packet yields at most max peers.
func TestPeersBound(t *testing.T) {
	m := &dns.Msg{MsgHdr: dns.MsgHdr{Response: true}}
	for i := range 100 {
		ann := announcement{"n" + strings.Repeat("x", i), netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)}), 7946), ""}
		m.Answer = append(m.Answer, ann.records(ttl)...)
	}
	if got := peers(m, "", 5); len(got) != 5 {
		t.Errorf("got %d peers, want 5", len(got))
	}
}

func TestAsksForUs(t *testing.T) {
	b, err := query()
	if err != nil {
		t.Fatal(err)
	}
	if !asksForUs(unpack(t, b)) {
		t.Error("our query is not recognized")
	}
	m := new(dns.Msg).SetQuestion("_http._tcp.local.", dns.TypePTR)
	if asksForUs(m) {
		t.Error("a query for _http._tcp is taken for ours")
	}
}

// FuzzPeers: no packet makes peers panic, and what it reports is valid.
func FuzzPeers(f *testing.F) {
	ann := announcement{"a@192.0.2.7", netip.MustParseAddrPort("192.0.2.7:7946"), "test"}
	for _, t := range []uint32{ttl, 0} {
		b, _ := ann.response(t)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m dns.Msg
		if m.Unpack(b) != nil {
			return
		}
		for _, p := range peers(&m, "test", maxPeersPerPacket) {
			if p.Instance == "" || len(p.Instance) > MaxInstance {
				t.Errorf("bad instance %q", p.Instance)
			}
			if !p.Gone && (!p.Addr.Addr().Is4() || p.Addr.Port() == 0) {
				t.Errorf("bad address %v", p.Addr)
			}
		}
	})
}
