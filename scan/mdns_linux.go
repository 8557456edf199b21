package scan

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/ipfinder-go/ipfinder/internal/mdnsconn"
)

// listenMDNS opens a UDP socket for mDNS over IPv4 on ifi: on port 5353,
// shared with any responder on this machine, when possible, else on an
// ephemeral port. The socket is bound to ifi too when the kernel lets it
// (SO_BINDTODEVICE), so that unicast answers reach the socket of the right
// interface.
func listenMDNS(ifi *net.Interface) (net.PacketConn, error) {
	return listenMDNSOn(ifi, "udp4", "0.0.0.0", mdnsconn.Join)
}

// listenMDNS6 is listenMDNS over IPv6 (ff02::fb). It fails at once when
// ifi has no IPv6 link-local address, which IPv6 multicast is sent from.
func listenMDNS6(ifi *net.Interface) (net.PacketConn, error) {
	if !hasLinkLocal6(ifi) {
		return nil, fmt.Errorf("no IPv6 link-local address on %s", ifi.Name)
	}
	return listenMDNSOn(ifi, "udp6", "[::]", mdnsconn.Join6)
}

func listenMDNSOn(ifi *net.Interface, network, anyAddr string, join func(net.PacketConn, *net.Interface, bool) (net.PacketConn, error)) (net.PacketConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
			_ = unix.BindToDevice(int(fd), ifi.Name) // best effort: the mdnsconn filters anyway
		})
		return errors.Join(err, serr)
	}}
	ctx := context.Background()
	c, err := lc.ListenPacket(ctx, network, anyAddr+":5353")
	if errors.Is(err, unix.EADDRINUSE) {
		c, err = lc.ListenPacket(ctx, network, anyAddr+":0")
	}
	if err != nil {
		return nil, err
	}
	conn, err := join(c, ifi, false)
	if err != nil {
		c.Close()
		return nil, err
	}
	return conn, nil
}

// hasLinkLocal6 reports whether ifi has an IPv6 link-local address.
func hasLinkLocal6(ifi *net.Interface) bool {
	addrs, err := ifi.Addrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() == nil && n.IP.IsLinkLocalUnicast() {
			return true
		}
	}
	return false
}
