package sdjoincmd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// fixedView is sampleView without the services of several providers,
// so every answer is in one order and replies compare byte for byte.
func fixedView() *testView {
	v := sampleView()
	v.entries = append(v.entries[:0:0], entry("web", "n1@192.0.2.1", "192.0.2.1:7946", map[string]string{"port": "8080"}),
		entry("db", "n3@2001:db8::3", "[2001:db8::3]:7946", map[string]string{"port": "5432"}))
	return v
}

// listenLoopbackUDP opens a UDP socket on 127.0.0.1, closed with the test.
func listenLoopbackUDP(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// startUDP serves z with our UDP server on 127.0.0.1 until the test ends.
func startUDP(t *testing.T, z *dnsZone, readers int) *udpServer {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	s, err := serveUDP(c, z, readers)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func (s *udpServer) addr() netip.AddrPort { return s.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

// startMiekgUDP serves z on 127.0.0.1 the way startDNS served UDP before
// it had its own readers: a dns.Server with the default accept function.
func startMiekgUDP(t *testing.T, z *dnsZone) netip.AddrPort {
	t.Helper()
	pc := listenLoopbackUDP(t)
	started, errs := make(chan struct{}), make(chan error, 1)
	srv := &dns.Server{PacketConn: pc, Handler: z, UDPSize: maxUDPSize, NotifyStartedFunc: func() { close(started) }}
	go func() { errs <- srv.ActivateAndServe() }()
	select {
	case <-started:
	case err := <-errs:
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Shutdown()
		<-errs
	})
	return pc.LocalAddr().(*net.UDPAddr).AddrPort()
}

// withID returns pkt with its first two bytes, the DNS ID, set to id.
func withID(pkt []byte, id uint16) []byte {
	pkt = bytes.Clone(pkt)
	binary.BigEndian.PutUint16(pkt, id)
	return pkt
}

func packed(t testing.TB, m *dns.Msg) []byte {
	t.Helper()
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// exchangeAll sends each packet to srv from one socket with its index as
// its ID, in batches of 8 each followed by a query with ID 0x8000+i whose
// reply paces them, and returns every reply by ID. Packets shorter than
// an ID are not sent.
func exchangeAll(t *testing.T, srv netip.AddrPort, pkts [][]byte) map[uint16][]byte {
	t.Helper()
	c := listenLoopbackUDP(t)
	got := map[uint16][]byte{}
	buf := make([]byte, 1<<16)
	record := func(deadline time.Time, until uint16, quiet bool) {
		c.SetReadDeadline(deadline)
		for {
			n, _, err := c.ReadFromUDPAddrPort(buf)
			var ne net.Error
			if quiet && errors.As(err, &ne) && ne.Timeout() {
				return
			}
			if err != nil || n < 2 {
				t.Fatalf("waiting for the reply with ID %#x: %d bytes, %v", until, n, err)
			}
			id := binary.BigEndian.Uint16(buf)
			if _, dup := got[id]; dup {
				t.Fatalf("two replies with ID %#x", id)
			}
			got[id] = bytes.Clone(buf[:n])
			if id == until && !quiet {
				return
			}
		}
	}
	pace := packed(t, ask("web.service.sdjoin.", dns.TypeSRV, 0))
	for i, p := range pkts {
		if len(p) >= 2 {
			if _, err := c.WriteToUDPAddrPort(withID(p, uint16(i)), srv); err != nil {
				t.Fatal(err)
			}
		}
		if i%8 == 7 || i == len(pkts)-1 {
			id := uint16(0x8000 + i)
			if _, err := c.WriteToUDPAddrPort(withID(pace, id), srv); err != nil {
				t.Fatal(err)
			}
			record(time.Now().Add(5*time.Second), id, false)
		}
	}
	record(time.Now().Add(300*time.Millisecond), 0, true) // replies the last pace overtook
	return got
}

// udpTestPackets returns queries and the ways a packet can be odd: every
// opcode, QR, section counts miekg's accept function rejects, cuts at
// every length, a tail past the read buffer, bit flips and random bytes.
func udpTestPackets(t *testing.T) [][]byte {
	notify := ask("sdjoin.", dns.TypeSOA, 0)
	notify.Opcode = dns.OpcodeNotify
	vers := ask("web.service.sdjoin.", dns.TypeA, 1232)
	vers.IsEdns0().SetVersion(1)
	var bases [][]byte
	for _, m := range []*dns.Msg{
		ask("web.service.sdjoin.", dns.TypeSRV, 1232), ask("n1.node.sdjoin.", dns.TypeA, 0),
		ask("db.service.sdjoin.", dns.TypeAAAA, 4096), ask("nosuch.service.sdjoin.", dns.TypeA, 0),
		ask("example.com.", dns.TypeA, 0), ask("sdjoin.", dns.TypeSOA, 512), notify, vers,
	} {
		bases = append(bases, packed(t, m))
	}
	rng := rand.New(rand.NewPCG(13, 1))
	var out [][]byte
	set := func(b []byte, off int, v uint16) []byte {
		b = bytes.Clone(b)
		binary.BigEndian.PutUint16(b[off:], v)
		return b
	}
	for i, b := range bases {
		bits := binary.BigEndian.Uint16(b[2:])
		out = append(out, b, set(b, 2, bits|1<<15), set(b, 2, bits|0x0670), set(b, 2, bits|0xf))
		for op := range uint16(16) {
			out = append(out, set(b, 2, bits&^(0xf<<11)|op<<11))
		}
		for off := 4; off <= 10; off += 2 {
			for _, n := range []uint16{0, 1, 2, 3, 0xffff} {
				out = append(out, set(b, off, n))
			}
		}
		if i < 3 {
			for n := 0; n < len(b); n++ {
				out = append(out, b[:n])
			}
		}
		out = append(out, append(bytes.Clone(b), make([]byte, 5000)...))
		for range 25 {
			f := bytes.Clone(b)
			for range 1 + rng.IntN(3) {
				f[rng.IntN(len(f))] ^= 1 << rng.IntN(8)
			}
			out = append(out, f)
		}
	}
	for range 150 {
		r := make([]byte, rng.IntN(80))
		for j := range r {
			r[j] = byte(rng.Uint32())
		}
		out = append(out, r)
	}
	return out
}

// TestDNSUDPMatchesMiekg: our UDP server answers every packet of
// udpTestPackets exactly as miekg's dns.Server did (the same bytes, or
// no reply from either), through real sockets.
func TestDNSUDPMatchesMiekg(t *testing.T) {
	t.Parallel()
	z := fixedView().zone(0)
	pkts := udpTestPackets(t)
	want := exchangeAll(t, startMiekgUDP(t, z), pkts)
	got := exchangeAll(t, startUDP(t, z, dnsUDPReaders).addr(), pkts)
	replied := 0
	for i, p := range pkts {
		w, g := want[uint16(i)], got[uint16(i)]
		if w != nil {
			replied++
		}
		if !bytes.Equal(w, g) {
			t.Errorf("packet %d %x:\nmiekg replied %x\nwe replied   %x", i, p, w, g)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d replies, miekg %d", len(got), len(want))
	}
	if replied < len(pkts)/3 || replied > len(pkts)-50 {
		t.Errorf("%d of %d packets answered: the mix should have many of both", replied, len(pkts))
	}
}

// TestDNSUDPIgnoresResponsesAndGarbage: through a real socket (four
// readers, so -race sees them share the zone), a
// response, packets shorter than a header, an empty datagram and a 64
// KiB one get no reply; random datagrams get at most a reply each; the
// server answers a query after all of them and Close returns.
func TestDNSUDPIgnoresResponsesAndGarbage(t *testing.T) {
	t.Parallel()
	s := startUDP(t, sampleView().zone(0), 4)
	c := listenLoopbackUDP(t)
	send := func(p []byte) {
		t.Helper()
		if _, err := c.WriteToUDPAddrPort(p, s.addr()); err != nil {
			t.Fatalf("send %d bytes: %v", len(p), err)
		}
	}
	resp := ask("web.service.sdjoin.", dns.TypeA, 0)
	resp.Response = true
	big := make([]byte, 65507) // the largest UDP payload over IPv4
	big[2] = 0x80              // QR
	for _, p := range [][]byte{packed(t, resp), {}, {0x12}, make([]byte, headerLen-1), big} {
		send(p)
	}
	q := ask("n1.node.sdjoin.", dns.TypeA, 0)
	send(packed(t, q))
	buf := make([]byte, 1<<16)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := c.ReadFromUDPAddrPort(buf)
	if err != nil || n < headerLen || binary.BigEndian.Uint16(buf) != q.Id {
		t.Fatalf("first reply: %x, %v; want the one to the query", buf[:n], err)
	}
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, _, err := c.ReadFromUDPAddrPort(buf); err == nil {
		t.Fatalf("a reply to a response or short packet: %x", buf[:n])
	}

	rng := rand.New(rand.NewPCG(13, 2))
	sent := map[uint16]int{}
	sync := packed(t, ask("n3.node.sdjoin.", dns.TypeAAAA, 0))
	binary.BigEndian.PutUint16(sync, 0xffff)
	// awaitSync reads replies up to the one to sync: garbage gets at most
	// a reply each, a response with its ID.
	awaitSync := func() {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			n, _, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				t.Fatalf("no reply to a query after garbage: %v", err)
			}
			id := binary.BigEndian.Uint16(buf)
			if n < headerLen || buf[2]&0x80 == 0 {
				t.Fatalf("reply that is no response: %x", buf[:n])
			}
			if id == 0xffff && bytes.Contains(buf[:n], []byte("\x02n3")) {
				return
			}
			if sent[id] == 0 {
				t.Fatalf("reply with ID %#x, sent none: %x", id, buf[:n])
			}
			sent[id]--
		}
	}
	for i := range 320 {
		p := make([]byte, rng.IntN(600))
		for j := range p {
			p[j] = byte(rng.Uint32())
		}
		if len(p) >= 2 {
			sent[binary.BigEndian.Uint16(p)]++
		}
		send(p)
		if i%16 == 15 { // in rounds, within the socket's receive buffer
			send(big)
			send(sync)
			awaitSync()
		}
	}
	closed := make(chan struct{})
	go func() {
		s.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
}

// TestDNSUDPCloseStopsAnswering: after Close the readers are gone and
// the port is free to bind again.
func TestDNSUDPCloseStopsAnswering(t *testing.T) {
	t.Parallel()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	s, err := serveUDP(c, sampleView().zone(0), 4)
	if err != nil {
		t.Fatal(err)
	}
	addr := s.addr()
	if m, err := dns.Exchange(ask("n1.node.sdjoin.", dns.TypeA, 0), addr.String()); err != nil || len(m.Answer) != 1 {
		t.Fatalf("query before Close: %v, %v", m, err)
	}
	s.Close()
	again, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
	if err != nil {
		t.Fatalf("port after Close: %v", err)
	}
	again.Close()
}

// FuzzDNSUDPReply: a reader reused for one packet answers the next as a
// new reader does; a packet shorter than a header or with QR set gets no
// reply; every reply fits 512 bytes or the request's EDNS0 size.
func FuzzDNSUDPReply(f *testing.F) {
	for _, m := range []*dns.Msg{
		ask("web.service.sdjoin.", dns.TypeSRV, 1232), ask("n1.node.sdjoin.", dns.TypeA, 0),
		ask("example.com.", dns.TypeA, 0), ask("sdjoin.", dns.TypeSOA, 4096),
	} {
		b := packed(f, m)
		f.Add(b, b[:20])
		f.Add(b[:20], b)
		m.Response = true
		f.Add(packed(f, m), b)
	}
	f.Add([]byte{}, []byte("\x00\x01\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00"))
	z := fixedView().zone(0)
	used := newUDPReader(z)
	f.Fuzz(func(t *testing.T, in, prev []byte) {
		used.answer(prev)
		got := bytes.Clone(used.answer(in))
		want := newUDPReader(z).answer(in)
		if !bytes.Equal(got, want) {
			t.Fatalf("reused reader replied %x, new one %x", got, want)
		}
		if len(in) < headerLen || in[2]&0x80 != 0 {
			if got != nil {
				t.Fatalf("reply to a short packet or response: %x", got)
			}
			return
		}
		limit := dns.MinMsgSize
		req := new(dns.Msg)
		if req.Unpack(in) == nil {
			if opt := req.IsEdns0(); opt != nil {
				limit = min(max(int(opt.UDPSize()), dns.MinMsgSize), maxUDPSize)
			}
		}
		if got == nil || len(got) > limit || binary.BigEndian.Uint16(got) != binary.BigEndian.Uint16(in) {
			t.Fatalf("reply %x to %x: want one of at most %d bytes with the request's ID", got, in, limit)
		}
	})
}
