package scan

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// udpResponder answers the datagrams that reach a real UDP socket on
// loopback with what reply returns (nothing for nil), until the test ends.
// It returns the socket's address and how many datagrams it received.
func udpResponder(t *testing.T, addr string, reply func(n int, q []byte) (out []byte, from net.PacketConn)) (netip.AddrPort, *atomic.Int32) {
	t.Helper()
	c, err := net.ListenPacket("udp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	var count atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, src, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			out, from := reply(int(count.Add(1)), append([]byte(nil), buf[:n]...))
			if from == nil {
				from = c
			}
			if out != nil {
				_, _ = from.WriteTo(out, src)
			}
		}
	}()
	t.Cleanup(func() {
		c.Close()
		<-done
	})
	return c.LocalAddr().(*net.UDPAddr).AddrPort(), &count
}

// nbstatReply answers a node status query as a host named name.
func nbstatReply(name string) func(int, []byte) ([]byte, net.PacketConn) {
	return func(_ int, q []byte) ([]byte, net.PacketConn) {
		if len(q) < 2 {
			return nil, nil
		}
		return nbstatResponse(binary.BigEndian.Uint16(q), nbEntry{name, 0, 0x0400}, nbEntry{"WORKGROUP", 0, 0x8400}), nil
	}
}

func TestNetBIOSQueryOverLoopback(t *testing.T) {
	// Every host is a real socket on its own loopback address, all on one
	// port: .2 answers, .3 answers only the resend, .4 answers with a
	// wrong ID, .5 has a neighbour (.6) answer for it, .7 is silent.
	probe, _ := udpResponder(t, "127.0.0.2:0", nbstatReply("HOST2"))
	port := probe.Port()
	at := func(i int) string {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, byte(i)}), port).String()
	}
	_, resent := udpResponder(t, at(3), func(n int, q []byte) ([]byte, net.PacketConn) {
		if n == 1 {
			return nil, nil // the first query is lost
		}
		return nbstatReply("HOST3")(n, q)
	})
	udpResponder(t, at(4), func(n int, q []byte) ([]byte, net.PacketConn) {
		b, _ := nbstatReply("HOST4")(n, q)
		b[0] ^= 0xff
		return b, nil
	})
	spoofer, err := net.ListenPacket("udp4", at(6))
	if err != nil {
		t.Fatal(err)
	}
	defer spoofer.Close()
	udpResponder(t, at(5), func(n int, q []byte) ([]byte, net.PacketConn) {
		b, _ := nbstatReply("EVIL")(n, q)
		return b, spoofer
	})

	c := NewNetBIOS(loopbackUDP(t))
	var addrs []netip.Addr
	for i := 7; i >= 2; i-- {
		addrs = append(addrs, netip.AddrFrom4([4]byte{127, 0, 0, byte(i)}))
	}
	addrs = append(addrs, netip.MustParseAddr("2001:db8::1")) // not IPv4: not asked
	start := time.Now()
	got, err := c.Query(context.Background(), addrs, &NetBIOSConfig{Port: port, Timeout: 400 * time.Millisecond})
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	want := []NetBIOSHost{
		{Addr: netip.MustParseAddr("127.0.0.2"), Name: "host2", Workgroup: "WORKGROUP"},
		{Addr: netip.MustParseAddr("127.0.0.3"), Name: "host3", Workgroup: "WORKGROUP"},
	}
	if diff := cmp.Diff(want, got, cmpAddr); diff != "" {
		t.Errorf("Query (-want +got):\n%s", diff)
	}
	if resent.Load() != 2 {
		t.Errorf("127.0.0.3 got %d queries, want 2 (one resend)", resent.Load())
	}
	if took < 400*time.Millisecond || took > 3*time.Second {
		t.Errorf("Query took %v, want the 400ms timeout (silent hosts), not much more", took)
	}
}

func TestNetBIOSQueryEndsWhenEveryHostAnswered(t *testing.T) {
	a, _ := udpResponder(t, "127.0.0.2:0", nbstatReply("ONLY"))
	c := NewNetBIOS(loopbackUDP(t))
	start := time.Now()
	got, err := c.Query(context.Background(), []netip.Addr{a.Addr()}, &NetBIOSConfig{Port: a.Port(), Timeout: 10 * time.Second})
	if err != nil || len(got) != 1 || got[0].Name != "only" {
		t.Fatalf("Query = %+v, %v; want host only", got, err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Query took %v: it should end once every host answered", took)
	}
	// The client can query again: the read deadline was cleared.
	if got, err := c.Query(context.Background(), []netip.Addr{a.Addr()}, &NetBIOSConfig{Port: a.Port()}); err != nil || len(got) != 1 {
		t.Errorf("second Query = %+v, %v", got, err)
	}
}

func TestNetBIOSQueryStopsWithContext(t *testing.T) {
	c := NewNetBIOS(loopbackUDP(t))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Query(ctx, []netip.Addr{netip.MustParseAddr("127.0.0.9")}, &NetBIOSConfig{Port: 9, Timeout: time.Minute})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Query error = %v, want context.DeadlineExceeded", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Query took %v after its context ended", took)
	}
	// The end of the context leaves no read deadline behind.
	a, _ := udpResponder(t, "127.0.0.2:0", nbstatReply("AFTER"))
	got, err := c.Query(context.Background(), []netip.Addr{a.Addr()}, &NetBIOSConfig{Port: a.Port()})
	if err != nil || len(got) != 1 || got[0].Name != "after" {
		t.Errorf("Query after a cancelled one = %+v, %v; want host after", got, err)
	}
}
