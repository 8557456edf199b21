package scan

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// fakeMDNSLink is a net.PacketConn on a simulated link where responders
// answer mDNS queries from a zone. With avahi set they answer like avahi:
// a PTR answer carries the instance's SRV and TXT and the target's A and
// AAAA records as additional records; without it they answer exactly what was
// asked, so every follow-up must be asked for.
type fakeMDNSLink struct {
	local   *net.UDPAddr
	zone    []dns.RR
	avahi   bool
	src     *net.UDPAddr                     // where answers come from
	group   string                           // where queries must go
	drop    func(q dns.Question, n int) bool // drop the answer to the n-th query of q (1-based)
	sendErr error                            // every write fails with it, if set

	*fakeReader[fakeDatagram]

	mu   sync.Mutex
	seen map[dns.Question]int    // queries per question, QU bit cleared
	qu   map[dns.Question][]bool // QU bit of each query of a question
}

type fakeDatagram struct {
	data []byte
	src  net.Addr
}

// newFakeMDNSLink returns a link whose responders publish zone (records in
// zone file syntax); the conn is bound to local ("0.0.0.0:5353" say).
func newFakeMDNSLink(t testing.TB, local string, avahi bool, zone ...string) *fakeMDNSLink {
	t.Helper()
	l := &fakeMDNSLink{
		local:      net.UDPAddrFromAddrPort(netip.MustParseAddrPort(local)),
		avahi:      avahi,
		src:        &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 5353},
		group:      "224.0.0.251:5353",
		fakeReader: newFakeReader[fakeDatagram](1024),
		seen:       make(map[dns.Question]int),
		qu:         make(map[dns.Question][]bool),
	}
	for _, s := range zone {
		l.zone = append(l.zone, rr(t, s))
	}
	return l
}

// newFakeMDNSLink6 is newFakeMDNSLink for the IPv6 socket of a browser on
// eth9: queries go to [ff02::fb%eth9]:5353, answers come from fe80::1.
func newFakeMDNSLink6(t testing.TB, local string, avahi bool, zone ...string) *fakeMDNSLink {
	l := newFakeMDNSLink(t, local, avahi, zone...)
	l.group = "[ff02::fb%eth9]:5353"
	l.src = &net.UDPAddr{IP: net.ParseIP("fe80::1"), Port: 5353, Zone: "eth9"}
	return l
}

// inject delivers a datagram from src as if it came from the wire.
func (l *fakeMDNSLink) inject(data []byte, src string) {
	l.in <- fakeDatagram{data: data, src: net.UDPAddrFromAddrPort(netip.MustParseAddrPort(src))}
}

// failReads makes ReadFrom fail with err from now on.
func (l *fakeMDNSLink) failReads(err error) { l.fail(err) }

func (l *fakeMDNSLink) queries(q dns.Question) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seen[q]
}

func (l *fakeMDNSLink) quBits(q dns.Question) []bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]bool(nil), l.qu[q]...)
}

func (l *fakeMDNSLink) WriteTo(b []byte, dst net.Addr) (int, error) {
	if l.sendErr != nil {
		return 0, l.sendErr
	}
	if dst.String() != l.group {
		return 0, errors.New("fake: mDNS query not sent to " + l.group)
	}
	var q dns.Msg
	if err := q.Unpack(b); err != nil || q.Response {
		return 0, errors.New("fake: not an mDNS query")
	}
	resp := &dns.Msg{MsgHdr: dns.MsgHdr{Response: true, Authoritative: true}}
	select {
	case <-l.close:
		return 0, net.ErrClosed
	default:
	}
	l.mu.Lock()
	for _, qq := range q.Question {
		isQU := qq.Qclass&(1<<15) != 0
		qq.Qclass &^= 1 << 15
		l.seen[qq]++
		l.qu[qq] = append(l.qu[qq], isQU)
		if l.drop == nil || !l.drop(qq, l.seen[qq]) {
			l.answer(resp, qq)
		}
	}
	l.mu.Unlock()
	if len(resp.Answer) > 0 {
		out, err := resp.Pack()
		if err != nil {
			return 0, err
		}
		select {
		case l.in <- fakeDatagram{data: out, src: l.src}:
		case <-l.close:
			return 0, net.ErrClosed
		}
	}
	return len(b), nil
}

func (l *fakeMDNSLink) answer(resp *dns.Msg, q dns.Question) {
	for _, a := range l.find(q.Name, q.Qtype) {
		resp.Answer = append(resp.Answer, a)
		ptr, ok := a.(*dns.PTR)
		if !ok || !l.avahi {
			continue
		}
		resp.Extra = append(resp.Extra, l.find(ptr.Ptr, dns.TypeTXT)...)
		for _, srv := range l.find(ptr.Ptr, dns.TypeSRV) {
			resp.Extra = append(resp.Extra, srv)
			resp.Extra = append(resp.Extra, l.find(srv.(*dns.SRV).Target, dns.TypeA)...)
			resp.Extra = append(resp.Extra, l.find(srv.(*dns.SRV).Target, dns.TypeAAAA)...)
		}
	}
}

func (l *fakeMDNSLink) find(name string, t uint16) []dns.RR {
	var out []dns.RR
	for _, x := range l.zone {
		if strings.EqualFold(x.Header().Name, name) && x.Header().Rrtype == t {
			out = append(out, x)
		}
	}
	return out
}

func (l *fakeMDNSLink) ReadFrom(b []byte) (int, net.Addr, error) {
	d, err := l.read()
	return copy(b, d.data), d.src, err
}

func (l *fakeMDNSLink) LocalAddr() net.Addr { return l.local }
