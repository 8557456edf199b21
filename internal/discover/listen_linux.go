package discover

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// Listen opens an mDNS socket on ifi: UDP port 5353 shared with any
// responder (SO_REUSEADDR), bound to ifi, joined to 224.0.0.251 there,
// sending there with TTL 255 and hearing its own packets (so agents on
// one machine hear each other; an Agent ignores its own). ifi must not
// be loopback and must support multicast.
func Listen(ifi *net.Interface) (net.PacketConn, error) {
	if ifi.Flags&net.FlagLoopback != 0 || ifi.Flags&net.FlagMulticast == 0 {
		return nil, fmt.Errorf("discover: %s is loopback or has no multicast: discovery works on a LAN interface only", ifi.Name)
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = errors.Join(
				unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1),
				unix.BindToDevice(int(fd), ifi.Name))
		})
		return errors.Join(err, serr)
	}}
	c, err := lc.ListenPacket(context.Background(), "udp4", "0.0.0.0:5353")
	if err != nil {
		return nil, fmt.Errorf("discover: mDNS port 5353 on %s: %w", ifi.Name, err)
	}
	conn, err := join(c, ifi)
	if err != nil {
		c.Close()
		return nil, err
	}
	return conn, nil
}

// join makes c multicast on ifi only (see Listen).
func join(c net.PacketConn, ifi *net.Interface) (net.PacketConn, error) {
	p := ipv4.NewPacketConn(c)
	for _, o := range []struct {
		name string
		set  func() error
	}{
		{"join 224.0.0.251", func() error { return p.JoinGroup(ifi, group) }},
		{"multicast interface", func() error { return p.SetMulticastInterface(ifi) }},
		{"multicast TTL", func() error { return p.SetMulticastTTL(255) }},
		{"multicast loopback", func() error { return p.SetMulticastLoopback(true) }},
		{"interface control messages", func() error { return p.SetControlMessage(ipv4.FlagInterface, true) }},
	} {
		if err := o.set(); err != nil {
			return nil, fmt.Errorf("discover: %s on %s: %w", o.name, ifi.Name, err)
		}
	}
	return &ifaceConn{PacketConn: p, ifindex: ifi.Index}, nil
}

// ifaceConn is a net.PacketConn reading only what arrived on one
// interface.
type ifaceConn struct {
	*ipv4.PacketConn
	ifindex int
}

func (c *ifaceConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, cm, src, err := c.PacketConn.ReadFrom(b)
		if err != nil || cm == nil || cm.IfIndex == 0 || cm.IfIndex == c.ifindex {
			return n, src, err
		}
	}
}

func (c *ifaceConn) WriteTo(b []byte, dst net.Addr) (int, error) {
	return c.PacketConn.WriteTo(b, nil, dst)
}
