package scan

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync/atomic"
	"time"
)

// ICMPv6 message types of an echo exchange (RFC 4443).
const (
	icmp6EchoRequest = 128
	icmp6EchoReply   = 129
)

// errNeedRawICMP is the error a user sees without CAP_NET_RAW.
var errNeedRawICMP = errors.New("need CAP_NET_RAW to send ICMPv6 echo: run as root or setcap cap_net_raw+ep on the binary, or skip IPv6")

// AllNodes is the link-local all-nodes multicast address ff02::1; give
// it the interface's zone to ping every host on that link.
var AllNodes = netip.MustParseAddr("ff02::1")

// A Pinger sends ICMPv6 echo requests over one socket and collects the
// addresses that answer them.
type Pinger struct {
	sock
	id  uint16
	seq atomic.Uint32
	log *slog.Logger
}

// DialPinger opens a raw ICMPv6 socket bound to src, one of ifi's
// addresses (a link-local src gets ifi's zone), and returns its Pinger.
// Hosts answer an echo to a multicast address from the address they would
// use to reach src: their link-local one for a link-local src, their
// global one for a global src. It needs CAP_NET_RAW; without it the error
// says so and matches os.ErrPermission.
func DialPinger(ifi *net.Interface, src netip.Addr, log *slog.Logger) (*Pinger, error) {
	if src.IsLinkLocalUnicast() {
		src = src.WithZone(ifi.Name)
	}
	conn, err := net.ListenPacket("ip6:ipv6-icmp", src.String())
	if errors.Is(err, os.ErrPermission) {
		return nil, fmt.Errorf("scan: %w: %w", errNeedRawICMP, err)
	}
	if err != nil {
		return nil, fmt.Errorf("scan: ICMPv6 socket on %s: %w", src, err)
	}
	return NewPinger(conn, log), nil
}

// NewPinger returns a Pinger over conn, which carries ICMPv6 messages
// without the IPv6 header, as a raw ICMPv6 socket does. The Pinger owns
// conn: Close closes it. A nil log discards.
func NewPinger(conn net.PacketConn, log *slog.Logger) *Pinger {
	return &Pinger{sock: sock{conn: conn}, id: uint16(rand.Uint32()), log: orDiscard(log)}
}

// Send sends one echo request to dst without waiting for an answer; a
// link-local or multicast dst needs its zone.
func (p *Pinger) Send(dst netip.Addr) error {
	return p.send(dst, uint16(p.seq.Add(1)))
}

func (p *Pinger) send(dst netip.Addr, seq uint16) error {
	_, err := p.conn.WriteTo(echoRequest(p.id, seq), &net.IPAddr{IP: dst.AsSlice(), Zone: dst.Zone()})
	if err != nil {
		return fmt.Errorf("scan: ICMPv6 echo to %s: %w", dst, err)
	}
	return nil
}

// Ping sends an echo request to dst (usually AllNodes with a zone), and
// the same once more after wait/2 for answers lost the first time, and
// returns, sorted, the addresses that answered within wait. It returns
// early with ctx.Err() when ctx ends.
func (p *Pinger) Ping(ctx context.Context, dst netip.Addr, wait time.Duration) ([]netip.Addr, error) {
	seq := uint16(p.seq.Add(1))
	if err := p.send(dst, seq); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = p.conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	defer p.conn.SetReadDeadline(time.Time{})
	start := time.Now()
	phases := []time.Time{start.Add(wait / 2), start.Add(wait)} // resend, then end
	var from []netip.Addr
	buf := make([]byte, maxDatagram)
	for len(phases) > 0 && ctx.Err() == nil {
		if err := p.conn.SetReadDeadline(phases[0]); err != nil {
			return nil, fmt.Errorf("scan: ICMPv6 read deadline: %w", err)
		}
		if ctx.Err() != nil {
			break // ended before the deadline was set: stop's deadline was overwritten
		}
		n, src, err := p.conn.ReadFrom(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if phases = phases[1:]; len(phases) == 1 && ctx.Err() == nil {
				if err := p.send(dst, seq); err != nil {
					p.log.Debug("ICMPv6 resend", "err", err)
				}
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("scan: ICMPv6 read: %w", err)
		}
		if a, ok := p.answer(buf[:n], src, seq); ok && !slices.Contains(from, a) {
			from = append(from, a)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(from, netip.Addr.Compare)
	return from, nil
}

// answer returns the source of an echo reply to this Pinger's request
// seq; ok is false for any other message: another type, someone else's
// ping, a late answer.
func (p *Pinger) answer(b []byte, src net.Addr, seq uint16) (netip.Addr, bool) {
	id, s, ok := parseEchoReply(b)
	a, aok := ipAddrOf(src)
	return a, ok && aok && id == p.id && s == seq
}

// ipAddrOf returns the IPv6 address, with zone, of a raw socket's peer.
func ipAddrOf(a net.Addr) (netip.Addr, bool) {
	ia, ok := a.(*net.IPAddr)
	if !ok {
		return netip.Addr{}, false
	}
	ip, ok := netip.AddrFromSlice(ia.IP)
	if !ok || !ip.Is6() || ip.Is4In6() {
		return netip.Addr{}, false
	}
	if ip.IsLinkLocalUnicast() {
		ip = ip.WithZone(ia.Zone)
	}
	return ip, true
}

// echoRequest returns an ICMPv6 echo request without payload. Its checksum
// is zero: the kernel fills in ICMPv6 checksums of raw sockets.
func echoRequest(id, seq uint16) []byte {
	b := []byte{icmp6EchoRequest, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(b[4:], id)
	binary.BigEndian.PutUint16(b[6:], seq)
	return b
}

// parseEchoReply returns the identifier and sequence number of an ICMPv6
// echo reply, ok false for any other message.
func parseEchoReply(b []byte) (id, seq uint16, ok bool) {
	if len(b) < 8 || b[0] != icmp6EchoReply || b[1] != 0 {
		return 0, 0, false
	}
	return binary.BigEndian.Uint16(b[4:]), binary.BigEndian.Uint16(b[6:]), true
}
