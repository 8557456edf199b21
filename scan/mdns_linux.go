package scan

import (
	"context"
	"errors"
	"net"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/ipfinder-go/ipfinder/internal/mdnsconn"
)

// listenMDNS opens a UDP socket for mDNS on ifi: on port 5353, shared with
// any responder on this machine, when possible, else on an ephemeral port.
// The socket is bound to ifi too when the kernel lets it (SO_BINDTODEVICE),
// so that unicast answers reach the socket of the right interface.
func listenMDNS(ifi *net.Interface) (net.PacketConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
			_ = unix.BindToDevice(int(fd), ifi.Name) // best effort: the mdnsconn filters anyway
		})
		return errors.Join(err, serr)
	}}
	ctx := context.Background()
	c, err := lc.ListenPacket(ctx, "udp4", "0.0.0.0:5353")
	if errors.Is(err, unix.EADDRINUSE) {
		c, err = lc.ListenPacket(ctx, "udp4", "0.0.0.0:0")
	}
	if err != nil {
		return nil, err
	}
	conn, err := mdnsconn.Join(c, ifi, false)
	if err != nil {
		c.Close()
		return nil, err
	}
	return conn, nil
}
