package scan

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
)

// dnsServer runs a real DNS server (miekg/dns) on a loopback UDP port that
// answers from zone (records in zone file syntax) like a home router:
// NXDOMAIN for names it does not know.
func dnsServer(t *testing.T, zone ...string) netip.AddrPort {
	t.Helper()
	var rrs []dns.RR
	for _, s := range zone {
		rrs = append(rrs, rr(t, s))
	}
	pc := loopbackUDP(t)
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		m.Authoritative = true
		name := q.Question[0].Name
		for range 2 { // the PTR, or a CNAME and its target's PTR
			for _, r := range rrs {
				if strings.EqualFold(r.Header().Name, name) {
					m.Answer = append(m.Answer, r)
					if c, ok := r.(*dns.CNAME); ok {
						name = c.Target
					}
				}
			}
		}
		if len(m.Answer) == 0 {
			m.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().(*net.UDPAddr).AddrPort()
}

func rdnsClient(t *testing.T) *RDNSClient {
	t.Helper()
	return NewRDNS(loopbackUDP(t))
}

func TestRDNSLookupOverLoopback(t *testing.T) {
	srv := dnsServer(t,
		"10.2.0.192.in-addr.arpa. 0 IN PTR Client10.LAN.",
		"11.2.0.192.in-addr.arpa. 0 IN PTR nas.lan.",
		"11.2.0.192.in-addr.arpa. 0 IN PTR media.lan.",
		"12.2.0.192.in-addr.arpa. 0 IN CNAME 12.0/25.2.0.192.in-addr.arpa.", // RFC 2317
		"12.0/25.2.0.192.in-addr.arpa. 0 IN PTR delegated.example.",
	)
	addrs := []netip.Addr{
		netip.MustParseAddr("192.0.2.13"), // NXDOMAIN
		netip.MustParseAddr("192.0.2.12"),
		netip.MustParseAddr("192.0.2.11"),
		netip.MustParseAddr("192.0.2.10"),
		netip.MustParseAddr("192.0.2.10"), // asked once
	}
	start := time.Now()
	got, err := rdnsClient(t).Lookup(context.Background(), addrs, &RDNSConfig{Servers: []netip.AddrPort{srv}, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	want := []RDNSHost{
		{Addr: netip.MustParseAddr("192.0.2.10"), Names: []string{"client10.lan"}},
		{Addr: netip.MustParseAddr("192.0.2.11"), Names: []string{"nas.lan", "media.lan"}},
		{Addr: netip.MustParseAddr("192.0.2.12"), Names: []string{"delegated.example"}},
	}
	if diff := cmp.Diff(want, got, cmpAddr); diff != "" {
		t.Errorf("Lookup (-want +got):\n%s", diff)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Lookup took %v: it should end once every query was answered, NXDOMAIN included", took)
	}
}

func TestRDNSLookupSilentServerCostsTheTimeoutOnly(t *testing.T) {
	// A server that never answers: a socket that reads nothing.
	silent := loopbackUDP(t)
	var addrs []netip.Addr
	for a, i := netip.MustParseAddr("192.0.2.1"), 0; i < 254; a, i = a.Next(), i+1 {
		addrs = append(addrs, a)
	}
	start := time.Now()
	got, err := rdnsClient(t).Lookup(context.Background(), addrs, &RDNSConfig{
		Servers: []netip.AddrPort{silent.LocalAddr().(*net.UDPAddr).AddrPort()},
		Timeout: 300 * time.Millisecond,
	})
	took := time.Since(start)
	if err != nil || len(got) != 0 {
		t.Errorf("Lookup = %v, %v; want nothing and no error", got, err)
	}
	if took < 300*time.Millisecond || took > 3*time.Second {
		t.Errorf("Lookup of 254 addresses took %v, want about the 300ms timeout", took)
	}
}

func TestRDNSLookupResendGoesToTheNextServer(t *testing.T) {
	silent := loopbackUDP(t)
	good := dnsServer(t, "7.2.0.192.in-addr.arpa. 0 IN PTR seven.lan.")
	servers := []netip.AddrPort{silent.LocalAddr().(*net.UDPAddr).AddrPort(), good}
	got, err := rdnsClient(t).Lookup(context.Background(), []netip.Addr{netip.MustParseAddr("192.0.2.7")}, &RDNSConfig{Servers: servers, Timeout: 5 * time.Second})
	if err != nil || len(got) != 1 || got[0].Names[0] != "seven.lan" {
		t.Errorf("Lookup = %+v, %v; want seven.lan from the second server", got, err)
	}
}

// lookupSpoofed looks 192.0.2.7 up at a server that answers "PTR
// evil.lan." in a reply mangle changes, sent from the socket from (nil:
// the one asked).
func lookupSpoofed(t *testing.T, mangle func(*dns.Msg), from net.PacketConn) ([]RDNSHost, error) {
	t.Helper()
	srv, _ := udpResponder(t, "127.0.0.1:0", func(_ int, q []byte) ([]byte, net.PacketConn) {
		var m dns.Msg
		if m.Unpack(q) != nil {
			return nil, nil
		}
		m.SetReply(&m)
		mangle(&m)
		m.Answer = []dns.RR{rr(t, "7.2.0.192.in-addr.arpa. 0 IN PTR evil.lan.")}
		b, _ := m.Pack()
		return b, from
	})
	return rdnsClient(t).Lookup(context.Background(), []netip.Addr{netip.MustParseAddr("192.0.2.7")},
		&RDNSConfig{Servers: []netip.AddrPort{srv}, Timeout: 300 * time.Millisecond})
}

func TestRDNSLookupIgnoresAnswersFromOthers(t *testing.T) {
	// The server asked answers from another socket than the one asked.
	got, err := lookupSpoofed(t, func(*dns.Msg) {}, loopbackUDP(t))
	if err != nil || len(got) != 0 {
		t.Errorf("Lookup = %+v, %v; want no names: the answer came from an address not asked", got, err)
	}
}

func TestRDNSLookupWithoutServer(t *testing.T) {
	_, err := rdnsClient(t).Lookup(context.Background(), []netip.Addr{netip.MustParseAddr("192.0.2.7")}, nil)
	if !errors.Is(err, ErrNoResolver) {
		t.Errorf("Lookup error = %v, want ErrNoResolver", err)
	}
}

func TestResolvConf(t *testing.T) {
	tests := []struct {
		name    string
		conf    string
		want    []netip.AddrPort
		wantErr error
	}{
		{name: "home_router", conf: "# from DHCP\ndomain lan\nnameserver 192.0.2.1\n", want: []netip.AddrPort{netip.MustParseAddrPort("192.0.2.1:53")}},
		{name: "several_and_ipv6", conf: "nameserver 198.51.100.53\nnameserver 2001:db8::53\nnameserver bogus\n", want: []netip.AddrPort{
			netip.MustParseAddrPort("198.51.100.53:53"), netip.MustParseAddrPort("[2001:db8::53]:53")}},
		{name: "none", conf: "search lan\n", wantErr: ErrNoResolver},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "resolv.conf")
			if err := os.WriteFile(path, []byte(tt.conf), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := ResolvConf(path)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ResolvConf error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
				t.Errorf("ResolvConf (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := ResolvConf(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("ResolvConf of a missing file: no error")
	}
}

func FuzzParsePTRAnswer(f *testing.F) {
	qnames := map[string]int{"10.2.0.192.in-addr.arpa.": 0}
	for _, zone := range [][]string{
		{"10.2.0.192.in-addr.arpa. 0 IN PTR a.lan."},
		{"10.2.0.192.in-addr.arpa. 0 IN CNAME x.", "x. 0 IN PTR b.lan.", "x. 0 IN CNAME 10.2.0.192.in-addr.arpa."},
	} {
		m := new(dns.Msg)
		m.SetQuestion("10.2.0.192.in-addr.arpa.", dns.TypePTR)
		m.Response = true
		for _, s := range zone {
			m.Answer = append(m.Answer, rr(f, s))
		}
		b, _ := m.Pack()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, a, err := parsePTRAnswer(b, qnames)
		if err != nil {
			return
		}
		for _, n := range a.names {
			if n == "" || n != strings.ToLower(n) || strings.HasSuffix(n, ".") {
				t.Fatalf("name %q: want non-empty, lower case, no trailing dot", n)
			}
		}
	})
}

func TestRDNSLookupIgnoresAnswersWithAnotherID(t *testing.T) {
	got, err := lookupSpoofed(t, func(m *dns.Msg) { m.Id ^= 0x5a5a }, nil) // an off-path guess
	if err != nil || len(got) != 0 {
		t.Errorf("Lookup = %+v, %v; want no names: the answer has another ID", got, err)
	}
}
