package scan

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
)

// zone6 is what avahi with use-ipv4=no publishes for an IPv6-only host:
// AAAA records, no A record.
var zone6 = []string{
	"_services._dns-sd._udp.local. 4500 IN PTR _ssh._tcp.local.",
	"_ssh._tcp.local. 4500 IN PTR v6only._ssh._tcp.local.",
	"v6only._ssh._tcp.local. 120 IN SRV 0 0 22 labhost6.local.",
	"labhost6.local. 120 IN AAAA fe80::6",
	"labhost6.local. 120 IN AAAA fd00::6",
	"labhost6.local. 120 IN AAAA 2001:db8::6",
}

var want6 = []MDNSHost{{
	Addr:     netip.MustParseAddr("2001:db8::6"),
	Names:    []string{"labhost6.local"},
	Services: []string{"_ssh._tcp"},
	IPv6:     []netip.Addr{netip.MustParseAddr("2001:db8::6"), netip.MustParseAddr("fd00::6"), netip.MustParseAddr("fe80::6%eth9")},
}}

// TestMDNSBrowseIPv6Socket browses with an IPv4 and an IPv6 socket where
// the host answers over IPv6 only: it is found, every query goes out on
// both sockets (QU first on both, being on port 5353), and a socket that
// cannot send does not fail the browse while the other one can.
func TestMDNSBrowseIPv6Socket(t *testing.T) {
	sendFails := errors.New("network is unreachable")
	tests := []struct {
		name       string
		v4Err      error
		v6Err      error
		want       []MDNSHost
		wantErr    bool
		wantV4Sent bool
	}{
		{name: "answers_over_ipv6_only", want: want6, wantV4Sent: true},
		{name: "ipv4_cannot_send", v4Err: sendFails, want: want6},
		{name: "ipv6_cannot_send", v6Err: sendFails, wantV4Sent: true},
		{name: "neither_can_send", v4Err: sendFails, v6Err: sendFails, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v4 := newFakeMDNSLink(t, "0.0.0.0:5353", true)
			v6 := newFakeMDNSLink6(t, "[::]:5353", true, zone6...)
			v4.sendErr, v6.sendErr = tt.v4Err, tt.v6Err
			b := NewMDNS(v4).withIPv6(v6, "eth9")
			b.zone = "eth9"
			got, err := b.Browse(t.Context(), nil, quickCfg)
			if err := b.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("Browse error = %v, want error: %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got, cmpAddr); diff != "" {
				t.Errorf("Browse (-want +got):\n%s", diff)
			}
			services := question(servicesName, dns.TypePTR)
			for _, l := range []struct {
				name string
				link *fakeMDNSLink
				sent bool
			}{{"ipv4", v4, tt.wantV4Sent}, {"ipv6", v6, tt.v6Err == nil && !tt.wantErr}} {
				if qu := l.link.quBits(services); l.sent && (len(qu) != 2 || !qu[0] || qu[1]) {
					t.Errorf("%s: QU bits of the services queries = %v, want [true false]", l.name, qu)
				}
				if _, err := l.link.read(); !errors.Is(err, net.ErrClosed) {
					t.Errorf("%s: socket not closed by Close: read = %v", l.name, err)
				}
			}
		})
	}
}

// TestMDNSBrowseIPv6ReadFails ends the browse with the error of the IPv6
// socket's reader, as for the IPv4 one, and stops both readers.
func TestMDNSBrowseIPv6ReadFails(t *testing.T) {
	v4 := newFakeMDNSLink(t, ephemeral, true)
	v6 := newFakeMDNSLink6(t, "[::]:0", true)
	b := NewMDNS(v4).withIPv6(v6, "eth9")
	defer b.Close()
	failed := errors.New("boom")
	v6.failReads(failed)
	start := time.Now()
	_, err := b.Browse(t.Context(), nil, &MDNSConfig{Timeout: 10 * time.Second})
	if !errors.Is(err, failed) {
		t.Errorf("Browse error = %v, want %v", err, failed)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Browse took %v after its IPv6 reader failed", d)
	}
}

// TestMDNSBrowseReverse6 reverse-resolves IPv6 addresses received on
// addrs (ip6.arpa PTR), as a responder that publishes no service is named:
// the name gets the address, a link-local one with the browsed zone, and
// joins the IPv4 host of the same name. An unanswered one is asked twice.
func TestMDNSBrowseReverse6(t *testing.T) {
	zone := []string{
		"6.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. 120 IN PTR labhost6.local.",
		"2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.e.f.ip6.arpa. 120 IN PTR labhost2.local.",
		"2.2.0.192.in-addr.arpa. 120 IN PTR labhost2.local.",
	}
	v4 := newFakeMDNSLink(t, ephemeral, false)
	v6 := newFakeMDNSLink6(t, "[::]:5353", false, zone...)
	b := NewMDNS(v4).withIPv6(v6, "eth9")
	b.zone = "eth9"
	defer b.Close()
	got, err := b.Browse(t.Context(), feed("2001:db8::6", "fe80::2%eth9", "192.0.2.2", "2001:db8::9", "::1", "ff02::1"), quickCfg)
	if err != nil {
		t.Fatal(err)
	}
	// The IPv4 reverse answer arrives over IPv6 here: answers count from
	// either socket.
	ip := netip.MustParseAddr
	want := []MDNSHost{
		{Addr: ip("192.0.2.2"), Names: []string{"labhost2.local"}, IPv6: []netip.Addr{ip("fe80::2%eth9")}},
		{Addr: ip("2001:db8::6"), Names: []string{"labhost6.local"}, IPv6: []netip.Addr{ip("2001:db8::6")}},
	}
	if diff := cmp.Diff(want, got, cmpAddr); diff != "" {
		t.Errorf("Browse (-want +got):\n%s", diff)
	}
	if n := v6.queries(reverseQuestion6(ip("2001:db8::9"))); n != 2 {
		t.Errorf("unanswered ip6.arpa question sent %d times, want 2", n)
	}
	for _, a := range []string{"::1", "ff02::1"} {
		if n := v6.queries(reverseQuestion6(ip(a))); n != 0 {
			t.Errorf("reverse question for %s sent %d times, want none", a, n)
		}
	}
}

func TestParseReverse6(t *testing.T) {
	ip := netip.MustParseAddr
	for _, a := range []netip.Addr{ip("2001:db8::6"), ip("fd00::7"), ip("fe80::aff:fe02:4"), ip("::"), ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")} {
		q := reverseQuestion6(a.WithZone("eth0"))
		if got, ok := parseReverse6(q.Name); !ok || got != a {
			t.Errorf("parseReverse6(%q) = %v, %v; want %v", q.Name, got, ok, a)
		}
	}
	good := "6.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."
	for _, bad := range []string{
		"",
		"ip6.arpa.",
		good[2:],       // 31 nibbles
		"0." + good,    // 33 nibbles
		"g" + good[1:], // not hex
		"6.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.02.ip6.arpa.", // a two-nibble label
		"6-0" + good[3:],   // no dot
		good[:len(good)-1], // no trailing dot
		"7.2.0.192.in-addr.arpa.",
	} {
		if a, ok := parseReverse6(bad); ok {
			t.Errorf("parseReverse6(%q) = %v, want no address", bad, a)
		}
	}
}

// FuzzParseReverse6 checks that only the canonical name of an address
// parses, and back to that name.
func FuzzParseReverse6(f *testing.F) {
	f.Add("6.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.")
	f.Add("7.2.0.192.in-addr.arpa.")
	f.Add("")
	f.Fuzz(func(t *testing.T, name string) {
		a, ok := parseReverse6(name)
		if !ok {
			return
		}
		if !a.Is6() || a.Zone() != "" {
			t.Fatalf("parseReverse6(%q) = %v, want an IPv6 address without zone", name, a)
		}
		if back := reverseQuestion6(a).Name; back != name {
			t.Fatalf("parseReverse6(%q) = %v, whose name is %q", name, a, back)
		}
	})
}
