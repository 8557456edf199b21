package tracker

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/lab"

	"github.com/hashicorp/memberlist"
)

// The transport tells the gate who opened each inbound stream, passes
// streams and packets on, counting them, and shuts down even when streams
// and packets nobody took are waiting (the wrapped transport's listeners
// block until one is taken).
func TestStreamTransport(t *testing.T) {
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
		BindAddrs: []string{"127.0.0.1"},
		Logger:    log.New(io.Discard, "", 0),
	})
	if err != nil {
		t.Fatal(err)
	}
	seen, saw := recordSeen()
	var counts stats
	st := newStreamTransport(nt, seen, &counts)
	addr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(nt.GetAutoBindPort())).String()
	dial := func() {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
	}
	dial()
	takeStreamFromLoopback(t, st.StreamCh(), saw)
	if n := counts.receivedMessages.Load(); n != 1 {
		t.Errorf("counted %d inbound streams, want 1", n)
	}
	udp, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	udp.Write([]byte("hello"))
	select {
	case p := <-st.PacketCh():
		if string(p.Buf) != "hello" {
			t.Errorf("packet %q, want hello", p.Buf)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("inbound packet not passed on")
	}
	if got := counts.receivedBytes.Load(); got != 5 {
		t.Errorf("counted %d bytes received, want 5", got)
	}
	for range 3 { // nobody takes these
		dial()
		udp.Write([]byte("ignored"))
	}
	lab.Eventually(t, 5*time.Second, "untaken streams noted", func() error {
		if got := saw(); len(got) < 2 {
			return fmt.Errorf("seen %v", got)
		}
		return nil
	})
	down := make(chan error, 1)
	go func() { down <- st.Shutdown() }()
	select {
	case err := <-down:
		if err != nil {
			t.Errorf("shutdown: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("shutdown hangs with streams waiting")
	}
	if err := st.Shutdown(); err != nil {
		t.Errorf("second shutdown: %v", err)
	}
}

// The default sockets hand memberlist a copy of each packet (one buffer
// is reused for reading), report who opened each stream, count both, and
// shut down with a packet and a stream nobody took.
func TestSockets(t *testing.T) {
	seen, saw := recordSeen()
	var counts stats
	s, err := listenSockets(netip.MustParseAddrPort("127.0.0.1:0"), seen, &counts)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", s.port())
	u, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	recv := func() []byte {
		t.Helper()
		select {
		case p := <-s.PacketCh():
			return p.Buf
		case <-time.After(5 * time.Second):
			t.Fatal("packet not passed on")
			return nil
		}
	}
	u.Write([]byte("first packet"))
	first := recv()
	u.Write([]byte("2nd"))
	if second := recv(); string(first) != "first packet" || string(second) != "2nd" {
		t.Errorf("packets %q, %q; want %q, %q", first, second, "first packet", "2nd")
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	takeStreamFromLoopback(t, s.StreamCh(), saw)
	if n, b := counts.receivedMessages.Load(), counts.receivedBytes.Load(); n != 3 || b != uint64(len("first packet2nd")) {
		t.Errorf("counted %d messages, %d bytes in; want 3, %d", n, b, len("first packet2nd"))
	}
	if _, err := s.WriteToAddress([]byte("out"), memberlist.Address{Addr: u.LocalAddr().String()}); err != nil {
		t.Fatal(err)
	}
	u.Write([]byte("never taken"))
	c2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	time.Sleep(100 * time.Millisecond) // both wait to be taken
	done := make(chan struct{})
	go func() { s.Shutdown(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown blocked by a packet or stream nobody took")
	}
}

// recordSeen returns a transport's seen func and a reader of what it saw.
func recordSeen() (func(netip.Addr), func() []netip.Addr) {
	var mu sync.Mutex
	var seen []netip.Addr
	return func(a netip.Addr) {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, a)
		}, func() []netip.Addr {
			mu.Lock()
			defer mu.Unlock()
			return slices.Clone(seen)
		}
}

// takeStreamFromLoopback waits for the one inbound stream dialed from
// 127.0.0.1, closes it, and checks that it was seen.
func takeStreamFromLoopback(t *testing.T, streams <-chan net.Conn, saw func() []netip.Addr) {
	t.Helper()
	select {
	case c := <-streams:
		c.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("inbound stream not passed on")
	}
	if got := saw(); len(got) != 1 || got[0] != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("seen %v, want [127.0.0.1]", got)
	}
}
