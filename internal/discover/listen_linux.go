package discover

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/ipfinder-go/ipfinder/internal/mdnsconn"
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
	conn, err := mdnsconn.Join(c, ifi, true)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("discover: %w", err)
	}
	return conn, nil
}
