package scan

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseEchoReply(t *testing.T) {
	tests := []struct {
		name    string
		b       []byte
		id, seq uint16
		ok      bool
	}{
		{"reply", []byte{129, 0, 0xab, 0xcd, 0x12, 0x34, 0x00, 0x07}, 0x1234, 7, true},
		{"reply_with_payload", []byte{129, 0, 0, 0, 0, 1, 0, 2, 'x', 'y'}, 1, 2, true},
		{"request", echoRequest(1, 2), 0, 0, false},
		{"neighbor_solicitation", []byte{135, 0, 0, 0, 0, 0, 0, 0, 0x20, 0x01, 0x0d, 0xb8}, 0, 0, false},
		{"bad_code", []byte{129, 1, 0, 0, 0, 1, 0, 2}, 0, 0, false},
		{"short", []byte{129, 0, 0, 0, 0, 1, 0}, 0, 0, false},
		{"empty", nil, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, seq, ok := parseEchoReply(tt.b)
			if id != tt.id || seq != tt.seq || ok != tt.ok {
				t.Errorf("parseEchoReply = %d, %d, %v; want %d, %d, %v", id, seq, ok, tt.id, tt.seq, tt.ok)
			}
		})
	}
}

// FuzzParseEchoReply checks that any ICMPv6 message parses without panic,
// and that a reply reads back the identifier and sequence it carries.
func FuzzParseEchoReply(f *testing.F) {
	f.Add([]byte{129, 0, 0, 0, 0x12, 0x34, 0, 7})
	f.Add(echoRequest(1, 2))
	f.Add([]byte{136, 0, 0, 0, 0x60, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		id, seq, ok := parseEchoReply(b)
		if !ok {
			return
		}
		req := echoRequest(id, seq)
		if binary.BigEndian.Uint32(req[4:]) != binary.BigEndian.Uint32(b[4:8]) {
			t.Fatalf("reply %x: id %d seq %d do not round-trip", b, id, seq)
		}
	})
}

// fakeEchoLink is a net.PacketConn on a link whose hosts answer every echo
// request: each of answer's addresses answers it once, then noise arrives.
type fakeEchoLink struct {
	*fakeReader[fakeICMP]
	answer []netip.Addr
	lose   int        // requests whose answers are lost
	noise  []fakeICMP // delivered after the answers of every request
	mu     sync.Mutex
	sent   []netip.Addr
}

type fakeICMP struct {
	b    []byte
	from net.Addr
}

func newFakeEchoLink(answer ...netip.Addr) *fakeEchoLink {
	return &fakeEchoLink{fakeReader: newFakeReader[fakeICMP](64), answer: answer}
}

func (l *fakeEchoLink) WriteTo(b []byte, dst net.Addr) (int, error) {
	ia := dst.(*net.IPAddr)
	d, _ := netip.AddrFromSlice(ia.IP)
	l.mu.Lock()
	l.sent = append(l.sent, d.WithZone(ia.Zone))
	l.mu.Unlock()
	if len(b) != 8 || b[0] != icmp6EchoRequest {
		return len(b), nil
	}
	if l.lose > 0 {
		l.lose--
		return len(b), nil
	}
	for _, a := range l.answer {
		reply := append([]byte{icmp6EchoReply}, b[1:]...)
		l.in <- fakeICMP{reply, &net.IPAddr{IP: a.AsSlice(), Zone: a.Zone()}}
	}
	for _, n := range l.noise {
		l.in <- n
	}
	return len(b), nil
}

func (l *fakeEchoLink) ReadFrom(b []byte) (int, net.Addr, error) {
	m, err := l.read()
	if err != nil {
		return 0, nil, err
	}
	return copy(b, m.b), m.from, nil
}

func (l *fakeEchoLink) LocalAddr() net.Addr { return &net.IPAddr{IP: net.IPv6loopback} }

func TestPingerCollectsEveryAnswerOnce(t *testing.T) {
	ll, global := netip.MustParseAddr("fe80::1%eth0"), netip.MustParseAddr("2001:db8::1")
	link := newFakeEchoLink(global, ll, global)
	p := NewPinger(link, nil)
	defer p.Close()
	from := func(s string) net.Addr { return &net.IPAddr{IP: net.ParseIP(s)} }
	link.noise = []fakeICMP{
		{[]byte{129, 0, 0, 0, byte(p.id >> 8), byte(p.id), 0, 9}, from("2001:db8::9")},      // another sequence
		{[]byte{129, 0, 0, 0, byte(p.id>>8) ^ 1, byte(p.id), 0, 1}, from("2001:db8::8")},    // another pinger
		{[]byte{135, 0, 0, 0, 0, 0, 0, 0}, from("2001:db8::7")},                             // an NDP message
		{[]byte{129, 0, 0, 0, byte(p.id >> 8), byte(p.id), 0, 1}, from("192.0.2.1")},        // not IPv6
		{[]byte{129, 0, 0, 0, byte(p.id >> 8), byte(p.id), 0, 1}, &net.UDPAddr{Port: 1}},    // not a raw peer
		{[]byte{129, 0, 0, 0, byte(p.id >> 8), byte(p.id), 0, 1}, from("::ffff:192.0.2.1")}, // IPv4-mapped
	}
	dst := AllNodes.WithZone("eth0")
	got, err := p.Ping(context.Background(), dst, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]netip.Addr{global, ll}, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("Ping (-want +got):\n%s", diff)
	}
	if len(link.sent) != 2 || link.sent[0] != dst || link.sent[1] != dst {
		t.Errorf("sent to %v, want %v twice", link.sent, dst)
	}
}

func TestPingerResendsOnce(t *testing.T) {
	a := netip.MustParseAddr("2001:db8::1")
	for _, tt := range []struct {
		name string
		lose int
		want int
	}{{"first_lost", 1, 1}, {"both_lost", 2, 0}} {
		t.Run(tt.name, func(t *testing.T) {
			link := newFakeEchoLink(a)
			link.lose = tt.lose
			p := NewPinger(link, nil)
			defer p.Close()
			got, err := p.Ping(context.Background(), AllNodes.WithZone("eth0"), 100*time.Millisecond)
			if err != nil || len(got) != tt.want {
				t.Errorf("Ping = %v, %v; want %d answers", got, err, tt.want)
			}
		})
	}
}

func TestPingerStopsWithContext(t *testing.T) {
	p := NewPinger(newFakeEchoLink(), nil)
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := p.Ping(ctx, AllNodes.WithZone("eth0"), time.Minute)
	if err != context.DeadlineExceeded {
		t.Errorf("Ping = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Ping returned after %v, want soon after the context ended", d)
	}
}

func TestPairMACs(t *testing.T) {
	a1, a2 := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("fe80::2%eth0")
	mac := net.HardwareAddr{0x02, 0, 0x5e, 0, 0x53, 1}
	found, missing := pairMACs([]netip.Addr{a1, a2}, map[netip.Addr]net.HardwareAddr{a1: mac})
	if len(found) != 1 || found[0].Addr != a1 || found[0].MAC.String() != mac.String() || len(missing) != 1 || missing[0] != a2 {
		t.Errorf("pairMACs = %v, %v", found, missing)
	}
}
