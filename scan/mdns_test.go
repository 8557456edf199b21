package scan

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
)

// labZone is what avahi on two lab hosts publishes.
var labZone = []string{
	"_services._dns-sd._udp.local. 4500 IN PTR _ssh._tcp.local.",
	"_services._dns-sd._udp.local. 4500 IN PTR _http._tcp.local.",
	`_ssh._tcp.local. 4500 IN PTR ssh\ on\ labhost2._ssh._tcp.local.`,
	`ssh\ on\ labhost2._ssh._tcp.local. 120 IN SRV 0 0 22 labhost2.local.`,
	`ssh\ on\ labhost2._ssh._tcp.local. 4500 IN TXT ""`,
	"_http._tcp.local. 4500 IN PTR web._http._tcp.local.",
	"web._http._tcp.local. 120 IN SRV 0 0 80 labhost3.local.",
	// no TXT for web: an instance without one still counts
	"labhost2.local. 120 IN A 192.0.2.2",
	"labhost3.local. 120 IN A 192.0.2.3",
	"2.2.0.192.in-addr.arpa. 120 IN PTR labhost2.local.",
	"3.2.0.192.in-addr.arpa. 120 IN PTR labhost3.local.",
	"4.2.0.192.in-addr.arpa. 120 IN PTR labhost4.local.", // only found through addrs
}

var labWant = []MDNSHost{
	{Addr: netip.MustParseAddr("192.0.2.2"), Names: []string{"labhost2.local"}, Services: []string{"_ssh._tcp"}},
	{Addr: netip.MustParseAddr("192.0.2.3"), Names: []string{"labhost3.local"}, Services: []string{"_http._tcp"}},
	{Addr: netip.MustParseAddr("192.0.2.4"), Names: []string{"labhost4.local"}},
}

// ephemeral is a local address off the mDNS port: no QU questions.
const ephemeral = "0.0.0.0:40000"

func feed(addrs ...string) <-chan netip.Addr {
	ch := make(chan netip.Addr, len(addrs))
	for _, a := range addrs {
		ch <- netip.MustParseAddr(a)
	}
	close(ch)
	return ch
}

// quickCfg ends a browse 100 ms after the link went quiet.
var quickCfg = &MDNSConfig{Timeout: 10 * time.Second, Quiet: 100 * time.Millisecond}

func TestMDNSBrowse(t *testing.T) {
	dropFirst := func(_ dns.Question, n int) bool { return n == 1 }
	tests := []struct {
		name    string
		noAvahi bool // responders answer only what is asked
		drop    func(dns.Question, int) bool
		addrs   []string
		want    []MDNSHost
	}{
		{name: "browse_and_reverse", addrs: []string{"192.0.2.4", "192.0.2.9", "192.0.2.2"}, want: labWant},
		{name: "browse_only", want: labWant[:2]},
		{name: "follow_ups_without_additional_records", noAvahi: true, addrs: []string{"192.0.2.4"}, want: labWant},
		{name: "first_query_of_each_question_lost", drop: dropFirst, addrs: []string{"192.0.2.4"}, want: labWant},
		{name: "first_query_lost_without_additional_records", noAvahi: true, drop: dropFirst, want: labWant[:2]},
		{name: "every_query_lost", drop: func(dns.Question, int) bool { return true }, addrs: []string{"192.0.2.4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			link := newFakeMDNSLink(t, ephemeral, !tt.noAvahi, labZone...)
			link.drop = tt.drop
			b := NewMDNS(link)
			defer b.Close()
			start := time.Now()
			got, err := b.Browse(t.Context(), feed(tt.addrs...), quickCfg)
			elapsed := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpAddr); diff != "" {
				t.Errorf("Browse (-want +got):\n%s", diff)
			}
			if elapsed > 5*time.Second {
				t.Errorf("browse took %v: did not finish when the link went quiet", elapsed)
			}
			// A question without an answer is sent exactly twice.
			if n := link.queries(reverseQuestion(netip.MustParseAddr("192.0.2.9"))); len(tt.addrs) > 1 && n != 2 {
				t.Errorf("unanswered reverse question sent %d times, want 2", n)
			}
		})
	}
}

// TestMDNSBrowseAAAA browses a dual-stack host and an IPv6-only one (a
// service whose target has only AAAA records): both get their IPv6
// addresses, link-local ones with the browsed interface as zone, whether
// the AAAA records come as additional records or as answers to the
// browser's own questions.
func TestMDNSBrowseAAAA(t *testing.T) {
	zone := []string{
		"_services._dns-sd._udp.local. 4500 IN PTR _ssh._tcp.local.",
		"_ssh._tcp.local. 4500 IN PTR dual._ssh._tcp.local.",
		"_ssh._tcp.local. 4500 IN PTR v6only._ssh._tcp.local.",
		"dual._ssh._tcp.local. 120 IN SRV 0 0 22 labhost2.local.",
		"v6only._ssh._tcp.local. 120 IN SRV 0 0 22 labhost6.local.",
		"labhost2.local. 120 IN A 192.0.2.2",
		"labhost2.local. 120 IN AAAA 2001:db8::2",
		"labhost2.local. 120 IN AAAA fe80::2",
		"labhost6.local. 120 IN AAAA fd00::6",
		"labhost6.local. 120 IN AAAA fe80::6",
	}
	ip := netip.MustParseAddr
	want := []MDNSHost{
		{Addr: ip("192.0.2.2"), Names: []string{"labhost2.local"}, Services: []string{"_ssh._tcp"},
			IPv6: []netip.Addr{ip("2001:db8::2"), ip("fe80::2%eth9")}},
		{Addr: ip("fd00::6"), Names: []string{"labhost6.local"}, Services: []string{"_ssh._tcp"},
			IPv6: []netip.Addr{ip("fd00::6"), ip("fe80::6%eth9")}},
	}
	for _, avahi := range []bool{false, true} {
		link := newFakeMDNSLink(t, ephemeral, avahi, zone...)
		b := NewMDNS(link)
		b.zone = "eth9" // as DialMDNS on eth9
		got, err := b.Browse(t.Context(), nil, quickCfg)
		b.Close()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got, cmpAddr); diff != "" {
			t.Errorf("avahi=%v: Browse (-want +got):\n%s", avahi, diff)
		}
		if n := link.queries(question("labhost6.local.", dns.TypeAAAA)); !avahi && n != 1 {
			t.Errorf("AAAA of the IPv6-only host asked %d times, want 1", n)
		}
	}
}

// TestMDNSBrowseFollowUps checks that the browser itself asks every
// follow-up a responder that sends no additional records needs: PTR per
// service type, SRV per instance, A per SRV target, and that it asks none
// when avahi's additional records already answered them.
func TestMDNSBrowseFollowUps(t *testing.T) {
	followUps := []dns.Question{
		question("_ssh._tcp.local.", dns.TypePTR),
		question("_http._tcp.local.", dns.TypePTR),
		question(`ssh\ on\ labhost2._ssh._tcp.local.`, dns.TypeSRV),
		question("web._http._tcp.local.", dns.TypeSRV),
		question("labhost2.local.", dns.TypeA),
		question("labhost3.local.", dns.TypeA),
	}
	for _, avahi := range []bool{false, true} {
		link := newFakeMDNSLink(t, ephemeral, avahi, labZone...)
		b := NewMDNS(link)
		if _, err := b.Browse(t.Context(), nil, quickCfg); err != nil {
			t.Fatal(err)
		}
		b.Close()
		for i, q := range followUps {
			want := 1
			switch {
			case i < 2:
				want = 2 // browses collect many answers: always sent twice
			case avahi:
				want = 0 // carried in the PTR answers
			}
			if n := link.queries(q); n != want {
				t.Errorf("avahi=%v: %s %s asked %d times, want %d", avahi, q.Name, dns.TypeToString[q.Qtype], n, want)
			}
		}
	}
}

func TestMDNSBrowseUnicastFirst(t *testing.T) {
	never := func(dns.Question, int) bool { return true }
	for _, tt := range []struct {
		local string
		want  []bool
	}{
		{local: "0.0.0.0:5353", want: []bool{true, false}},
		{local: ephemeral, want: []bool{false, false}},
	} {
		link := newFakeMDNSLink(t, tt.local, true)
		link.drop = never
		b := NewMDNS(link)
		if _, err := b.Browse(t.Context(), feed("192.0.2.9"), quickCfg); err != nil {
			t.Fatal(err)
		}
		b.Close()
		got := link.quBits(reverseQuestion(netip.MustParseAddr("192.0.2.9")))
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("bound to %s: QU bits of the two sends (-want +got):\n%s", tt.local, diff)
		}
	}
}

// TestMDNSBrowseHostilePackets feeds a browse packets no responder should
// send: the browse goes on and finds what the honest responders publish.
func TestMDNSBrowseHostilePackets(t *testing.T) {
	link := newFakeMDNSLink(t, ephemeral, true, labZone...)
	for name, pkt := range hostilePackets(t) {
		t.Logf("injecting %s (%d bytes)", name, len(pkt))
		link.inject(pkt, "192.0.2.66:5353")
	}
	// A true-looking answer from another port than 5353 is no mDNS answer.
	link.inject(response(t, []string{"labhost2.local. 120 IN A 192.0.2.66"}), "192.0.2.66:4444")
	b := NewMDNS(link)
	defer b.Close()
	got, err := b.Browse(t.Context(), feed("192.0.2.4"), quickCfg)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(labWant, got, cmpAddr); diff != "" {
		t.Errorf("Browse after hostile packets (-want +got):\n%s", diff)
	}
}

// hostilePackets are packets a browse must survive without harm.
func hostilePackets(t testing.TB) map[string][]byte {
	t.Helper()
	huge := &dns.Msg{MsgHdr: dns.MsgHdr{Response: true}}
	for range 40 {
		huge.Answer = append(huge.Answer, &dns.TXT{
			Hdr: dns.RR_Header{Name: "big.local.", Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 120},
			Txt: []string{strings.Repeat("x", 255)},
		})
	}
	hugePkt, err := huge.Pack()
	if err != nil {
		t.Fatal(err)
	}
	// Header of a response with one answer, whose name points at itself.
	header := []byte{0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0}
	loop := append(append([]byte{}, header...), 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 120, 0, 4, 192, 0, 2, 66)
	pingPong := append(append([]byte{}, header...), 1, 'a', 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 120, 0, 4, 192, 0, 2, 66)
	beyond := append(append([]byte{}, header...), 0xc0, 0xff)
	tooLong := append([]byte{}, header...) // a name of 5*64 bytes, over DNS's 255
	for range 5 {
		tooLong = append(append(tooLong, 63), strings.Repeat("a", 63)...)
	}
	tooLong = append(tooLong, 0, 0, 1, 0, 1, 0, 0, 0, 120, 0, 4, 192, 0, 2, 68)
	query, _ := (&dns.Msg{Question: []dns.Question{question("labhost2.local.", dns.TypeA)}}).Pack()
	return map[string][]byte{
		"empty":            {},
		"garbage":          []byte("GET / HTTP/1.1\r\n\r\n"),
		"compression_loop": loop,
		"compression_ping": pingPong,
		"pointer_beyond":   beyond,
		"truncated":        avahi2(t)[:40],
		"huge_truncated":   hugePkt, // over maxPacket: arrives cut
		"query":            query,
		"escaped_names": response(t, []string{
			`bad\ name.local. 120 IN A 192.0.2.66`,
			`evil\000.local. 120 IN A 192.0.2.67`,
			`7.2.0.192.in-addr.arpa. 120 IN PTR host\;rm\ -rf.local.`,
			`_services._dns-sd._udp.local. 120 IN PTR _x\ y._tcp.local.`,
		}),
		"too_long_name": tooLong,
		"bad_addresses": response(t, []string{
			"multi.local. 120 IN A 224.0.0.251",
			"zero.local. 120 IN A 0.0.0.0",
			"1.0.0.127.in-addr.arpa. 120 IN PTR lo.local.",
		}),
		"goodbye": response(t, []string{"labhost2.local. 0 IN A 192.0.2.69"}),
	}
}

// TestMDNSBrowseReadError checks that a failing socket ends the browse at
// once with the error and what was found.
func TestMDNSBrowseReadError(t *testing.T) {
	link := newFakeMDNSLink(t, ephemeral, true, labZone...)
	link.drop = func(q dns.Question, _ int) bool { return q.Name != servicesName }
	b := NewMDNS(link)
	defer b.Close()
	never := make(chan netip.Addr) // keeps the browse open
	errNetDown := errors.New("network is down")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	go func() {
		for link.queries(question("_ssh._tcp.local.", dns.TypePTR)) == 0 {
			if ctx.Err() != nil {
				return
			}
			time.Sleep(time.Millisecond) // poll
		}
		link.failReads(errNetDown)
	}()
	start := time.Now()
	got, err := b.Browse(ctx, never, &MDNSConfig{Timeout: time.Minute})
	if !errors.Is(err, errNetDown) {
		t.Errorf("err = %v, want %v", err, errNetDown)
	}
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("took %v after the read error", elapsed)
	}
	if got != nil {
		t.Errorf("got %v, want nothing (no instance was answered)", got)
	}
}

func TestMDNSBrowseEnds(t *testing.T) {
	never := make(chan netip.Addr) // never closed: more addresses may come
	tests := []struct {
		name    string
		timeout time.Duration
		ctx     time.Duration
		wantErr error
	}{
		{name: "timeout_with_open_addrs", timeout: 300 * time.Millisecond, ctx: time.Minute},
		{name: "context_ends_first", timeout: time.Minute, ctx: 300 * time.Millisecond, wantErr: context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := NewMDNS(newFakeMDNSLink(t, ephemeral, true, labZone...))
			defer b.Close()
			ctx, cancel := context.WithTimeout(t.Context(), tt.ctx)
			defer cancel()
			start := time.Now()
			got, err := b.Browse(ctx, never, &MDNSConfig{Timeout: tt.timeout})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if elapsed := time.Since(start); elapsed > 5*time.Second {
				t.Errorf("took %v", elapsed)
			}
			if diff := cmp.Diff(labWant[:2], got, cmpAddr); diff != "" {
				t.Errorf("partial result (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMDNSBrowseAgainAndClose browses twice over one conn, then closes it.
func TestMDNSBrowseAgainAndClose(t *testing.T) {
	link := newFakeMDNSLink(t, ephemeral, true, labZone...)
	b := NewMDNS(link)
	for i := range 2 {
		got, err := b.Browse(t.Context(), feed("192.0.2.4"), quickCfg)
		if err != nil {
			t.Fatalf("browse %d: %v", i, err)
		}
		if diff := cmp.Diff(labWant, got, cmpAddr); diff != "" {
			t.Errorf("browse %d (-want +got):\n%s", i, diff)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := b.Browse(t.Context(), nil, quickCfg); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Browse after Close: err = %v, want net.ErrClosed", err)
	}
}
