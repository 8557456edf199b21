package scan

import (
	"fmt"
	"net"

	"golang.org/x/net/ipv4"
)

// joinMDNS makes c an mDNS socket on ifi only: it joins 224.0.0.251 on
// ifi, sends multicast out of ifi with TTL 255 (RFC 6762 section 11)
// without hearing its own queries, and returns a conn that drops what
// arrives on other interfaces.
func joinMDNS(c net.PacketConn, ifi *net.Interface) (net.PacketConn, error) {
	p := ipv4.NewPacketConn(c)
	for _, o := range []struct {
		name string
		set  func() error
	}{
		{"join 224.0.0.251", func() error { return p.JoinGroup(ifi, &net.UDPAddr{IP: mdnsGroup.IP}) }},
		{"multicast interface", func() error { return p.SetMulticastInterface(ifi) }},
		{"multicast TTL", func() error { return p.SetMulticastTTL(255) }},
		{"multicast loopback", func() error { return p.SetMulticastLoopback(false) }},
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
