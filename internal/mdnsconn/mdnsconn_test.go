package mdnsconn

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// TestIfaceConnDropsOtherInterfaces sends over loopback to a conn that
// reads only one interface: loopback's packets pass, another's do not.
func TestIfaceConnDropsOtherInterfaces(t *testing.T) {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Skipf("no loopback interface named lo: %v", err)
	}
	for _, tt := range []struct {
		name    string
		ifindex int
		want    bool
	}{
		{name: "same_interface", ifindex: lo.Index, want: true},
		{name: "other_interface", ifindex: lo.Index + 1000, want: false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.ListenPacket("udp4", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			p := ipv4.NewPacketConn(c)
			if err := p.SetControlMessage(ipv4.FlagInterface, true); err != nil {
				t.Fatal(err)
			}
			conn := &ifaceConn{PacketConn: p, ifindex: tt.ifindex}
			defer conn.Close()
			checkLoopback(t, conn, c.LocalAddr(), tt.want)
		})
	}
}

// TestIfaceConn6DropsOtherInterfaces is TestIfaceConnDropsOtherInterfaces
// over IPv6 loopback.
func TestIfaceConn6DropsOtherInterfaces(t *testing.T) {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Skipf("no loopback interface named lo: %v", err)
	}
	for _, tt := range []struct {
		name    string
		ifindex int
		want    bool
	}{
		{name: "same_interface", ifindex: lo.Index, want: true},
		{name: "other_interface", ifindex: lo.Index + 1000, want: false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.ListenPacket("udp6", "[::1]:0")
			if err != nil {
				t.Skipf("no IPv6 loopback: %v", err)
			}
			p := ipv6.NewPacketConn(c)
			if err := p.SetControlMessage(ipv6.FlagInterface, true); err != nil {
				t.Fatal(err)
			}
			conn := &ifaceConn6{PacketConn: p, ifindex: tt.ifindex}
			defer conn.Close()
			checkLoopback(t, conn, c.LocalAddr(), tt.want)
		})
	}
}

// checkLoopback sends a packet to conn's own address to and checks that
// conn reads it when want, and drops it otherwise.
func checkLoopback(t *testing.T, conn net.PacketConn, to net.Addr, want bool) {
	t.Helper()
	if _, err := conn.WriteTo([]byte("hello"), to); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	buf := make([]byte, 16)
	n, _, err := conn.ReadFrom(buf)
	switch {
	case want && (err != nil || string(buf[:n]) != "hello"):
		t.Errorf("ReadFrom = %q, %v; want hello", buf[:n], err)
	case !want && !errors.Is(err, os.ErrDeadlineExceeded):
		t.Errorf("ReadFrom = %q, %v; want the packet dropped", buf[:n], err)
	}
}
