//go:build linux

package scan

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/mdlayher/packet"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// errNeedRaw is the error a user sees without CAP_NET_RAW.
var errNeedRaw = errors.New("need CAP_NET_RAW to send ARP: run as root or setcap cap_net_raw+ep on the binary")

// arpFilter keeps our own outgoing frames out of the socket, so that the
// receive buffer holds only what others sent.
var arpFilter = mustAssemble([]bpf.Instruction{
	bpf.LoadExtension{Num: bpf.ExtType},
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.PACKET_OUTGOING, SkipTrue: 1},
	bpf.RetConstant{Val: 1514},
	bpf.RetConstant{Val: 0},
})

// arpReadBuffer holds the replies of a /24 many times over, even when the
// sweeping process is slow to read them.
const arpReadBuffer = 1 << 20

func mustAssemble(insns []bpf.Instruction) []bpf.RawInstruction {
	raw, err := bpf.Assemble(insns)
	if err != nil {
		panic(err) // a constant program: a bug, not input
	}
	return raw
}

// DialARP opens a raw ARP socket on ifi and returns an ARPScanner that
// sends from ifi's IPv4 addresses. It needs CAP_NET_RAW; without it the
// error says so and matches os.ErrPermission.
func DialARP(ifi *net.Interface) (*ARPScanner, error) {
	addrs, err := ifi.Addrs()
	if err != nil {
		return nil, fmt.Errorf("scan: addresses of %s: %w", ifi.Name, err)
	}
	var prefixes []netip.Prefix
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			if p, ok := prefixFromIPNet(ipn); ok {
				prefixes = append(prefixes, p)
			}
		}
	}
	conn, err := packet.Listen(ifi, packet.Raw, ethTypeARP, &packet.Config{Filter: arpFilter})
	if err != nil {
		return nil, openError(ifi.Name, err)
	}
	setReadBuffer(conn, arpReadBuffer)
	s, err := NewARP(conn, ifi.HardwareAddr, prefixes)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("scan: %s: %w", ifi.Name, err)
	}
	return s, nil
}

// openError explains a failure to open the raw socket.
func openError(ifname string, err error) error {
	if errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("scan: %s: %w (%w)", ifname, errNeedRaw, err)
	}
	return fmt.Errorf("scan: opening ARP socket on %s: %w", ifname, err)
}

// ethTypeARP is the EtherType of ARP.
const ethTypeARP = unix.ETH_P_ARP

// setReadBuffer raises the socket's receive buffer, past rmem_max when
// privileged; failing that, the default buffer is kept.
func setReadBuffer(conn *packet.Conn, size int) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size) != nil {
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, size)
		}
	})
}

// isTransientSendError reports whether a send failed only because the
// interface's queue was full.
func isTransientSendError(err error) bool {
	return errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.EAGAIN)
}
