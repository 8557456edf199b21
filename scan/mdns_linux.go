package scan

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// listenMDNS opens a UDP socket for mDNS on ifi: bound to port 5353 when
// possible (then qu is set and unicast answers may be asked for), else to
// an ephemeral port (answers arrive as legacy unicast, RFC 6762 section
// 6.7). It joins 224.0.0.251 on ifi only, sends multicast out of ifi with
// TTL 255, hears neither its own queries nor groups joined elsewhere, and
// is bound to ifi when the process may do so.
func listenMDNS(ifi *net.Interface, log *slog.Logger) (conn net.PacketConn, qu bool, err error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = setupMDNSSocket(int(fd), ifi, log) })
		return errors.Join(err, serr)
	}}
	ctx := context.Background()
	conn, err = lc.ListenPacket(ctx, "udp4", "0.0.0.0:5353")
	if errors.Is(err, unix.EADDRINUSE) {
		log.Debug("mdns: port 5353 in use, using an ephemeral port", "err", err)
		conn, err = lc.ListenPacket(ctx, "udp4", "0.0.0.0:0")
		return conn, false, err
	}
	return conn, err == nil, err
}

func setupMDNSSocket(fd int, ifi *net.Interface, log *slog.Logger) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return fmt.Errorf("SO_REUSEADDR: %w", err)
	}
	if err := unix.BindToDevice(fd, ifi.Name); err != nil {
		log.Debug("mdns: cannot bind to interface (needs CAP_NET_RAW), filtering multicast only", "iface", ifi.Name, "err", err)
	}
	mreq := &unix.IPMreqn{Multiaddr: [4]byte{224, 0, 0, 251}, Ifindex: int32(ifi.Index)}
	for _, o := range []struct {
		name string
		set  func() error
	}{
		{"IP_MULTICAST_ALL", func() error { return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_ALL, 0) }},
		{"IP_MULTICAST_IF", func() error {
			return unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, &unix.IPMreqn{Ifindex: int32(ifi.Index)})
		}},
		{"IP_MULTICAST_TTL", func() error { return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, 255) }},
		{"IP_MULTICAST_LOOP", func() error { return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, 0) }},
		{"IP_ADD_MEMBERSHIP", func() error { return unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP, mreq) }},
	} {
		if err := o.set(); err != nil {
			return fmt.Errorf("%s on %s: %w", o.name, ifi.Name, err)
		}
	}
	return nil
}
