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
