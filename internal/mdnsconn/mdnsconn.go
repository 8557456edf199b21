// Package mdnsconn turns a UDP socket into an mDNS socket on one
// interface, for scan's queries and discover's agent alike.
package mdnsconn

import (
	"fmt"
	"net"

	"golang.org/x/net/ipv4"
)

// group is the mDNS IPv4 multicast group (RFC 6762).
var group = &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251)}

// Join makes c an mDNS socket on ifi only: it joins 224.0.0.251 on ifi,
// sends multicast out of ifi with TTL 255 (RFC 6762 section 11), hears
// its own multicast only when loopback is set, and returns a conn that
// drops what arrives on other interfaces.
func Join(c net.PacketConn, ifi *net.Interface, loopback bool) (net.PacketConn, error) {
	p := ipv4.NewPacketConn(c)
	for _, o := range []struct {
		name string
		set  func() error
	}{
		{"join 224.0.0.251", func() error { return p.JoinGroup(ifi, group) }},
		{"multicast interface", func() error { return p.SetMulticastInterface(ifi) }},
		{"multicast TTL", func() error { return p.SetMulticastTTL(255) }},
		{"multicast loopback", func() error { return p.SetMulticastLoopback(loopback) }},
		{"interface control messages", func() error { return p.SetControlMessage(ipv4.FlagInterface, true) }},
	} {
		if err := o.set(); err != nil {
			return nil, fmt.Errorf("%s on %s: %w", o.name, ifi.Name, err)
		}
	}
	return &ifaceConn{PacketConn: p, ifindex: ifi.Index}, nil
}

// ifaceConn is a net.PacketConn that reads only the packets that arrived
// on one interface. Packets without interface information are kept.
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
