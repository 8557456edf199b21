package tracker

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/netip"
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
	var mu sync.Mutex
	var seen []netip.Addr
	var counts stats
	st := newStreamTransport(nt, func(a netip.Addr) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, a)
	}, &counts)
	addr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(nt.GetAutoBindPort())).String()
	dial := func() {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
	}
	dial()
	select {
	case c := <-st.StreamCh():
		c.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("inbound stream not passed on")
	}
	mu.Lock()
	if len(seen) != 1 || seen[0] != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("seen %v, want [127.0.0.1]", seen)
	}
	mu.Unlock()
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
		mu.Lock()
		defer mu.Unlock()
		if len(seen) < 2 {
			return fmt.Errorf("seen %v", seen)
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
