package mdnsconn

import (
	"fmt"
	"net"

	"golang.org/x/net/ipv6"
)

// group6 is the mDNS IPv6 link-local multicast group (RFC 6762).
var group6 = &net.UDPAddr{IP: net.ParseIP("ff02::fb")}

// Join6 is Join for IPv6: it joins ff02::fb on ifi, sends multicast out of
// ifi with hop limit 255 (RFC 6762 section 11), hears its own multicast
// only when loopback is set, and returns a conn that drops what arrives
// on other interfaces. c must be an IPv6 UDP socket.
func Join6(c net.PacketConn, ifi *net.Interface, loopback bool) (net.PacketConn, error) {
	p := ipv6.NewPacketConn(c)
	for _, o := range []struct {
		name string
		set  func() error
	}{
		{"join ff02::fb", func() error { return p.JoinGroup(ifi, group6) }},
		{"IPv6 multicast interface", func() error { return p.SetMulticastInterface(ifi) }},
		{"IPv6 multicast hop limit", func() error { return p.SetMulticastHopLimit(255) }},
		{"IPv6 multicast loopback", func() error { return p.SetMulticastLoopback(loopback) }},
		{"IPv6 interface control messages", func() error { return p.SetControlMessage(ipv6.FlagInterface, true) }},
	} {
		if err := o.set(); err != nil {
			return nil, fmt.Errorf("%s on %s: %w", o.name, ifi.Name, err)
		}
	}
	return &ifaceConn6{PacketConn: p, ifindex: ifi.Index}, nil
}

// ifaceConn6 is ifaceConn for IPv6.
type ifaceConn6 struct {
	*ipv6.PacketConn
	ifindex int
}

func (c *ifaceConn6) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, cm, src, err := c.PacketConn.ReadFrom(b)
		if err != nil || cm == nil || cm.IfIndex == 0 || cm.IfIndex == c.ifindex {
			return n, src, err
		}
	}
}

func (c *ifaceConn6) WriteTo(b []byte, dst net.Addr) (int, error) {
	return c.PacketConn.WriteTo(b, nil, dst)
}
