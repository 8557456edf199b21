package scan

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
)

// Defaults of ARPConfig.
const (
	// DefaultARPTimeout is arp-scan's per-host timeout: long enough for Wi-Fi
	// clients in power save, which answer a few hundred milliseconds late.
	DefaultARPTimeout = 500 * time.Millisecond
	// DefaultARPRetries gives every silent target three requests in all,
	// one more than arp-scan, so that 10% reply loss costs about one host in
	// a thousand.
	DefaultARPRetries = 2
	// DefaultARPRate is about 0.5 Mbit/s of broadcast frames: twice
	// arp-scan's default, far below what a Wi-Fi access point rebroadcasts
	// at its lowest basic rate.
	DefaultARPRate = 1000
)

// ARPConfig holds the knobs of an ARP sweep. The zero value, and a nil
// *ARPConfig, apply the defaults.
type ARPConfig struct {
	// Timeout is how long a target has to answer, counted from its first
	// request. A silent target's requests go at least Timeout/(Retries+1)
	// apart (the spacing). Every target gets its first request before any
	// retry but those of Prior targets; the other retries follow, second
	// requests before third ones, within a retry budget: one retry per
	// target, or as many as Rate allows in Timeout, whichever is more. So
	// a /24 gets every retry, and a /16 about one per silent target
	// instead of tripling its time. Retries to targets in a /24 where a
	// target answered go first; those in the other /24s (far) stop at
	// twice the time the sweep takes at Rate (first requests and budget,
	// plus Timeout), but no earlier than Timeout after the last first
	// request: a large sweep whose sends take far longer than Rate allows
	// (a busy CPU; a lab where every host takes every broadcast) keeps
	// every first request and the retries near live hosts, but does not
	// run on. The sweep ends when no retry is left
	// to send and the latest request had a spacing to be answered, at
	// least Timeout after the last first request (earlier if every target
	// answered). A short Timeout (50 ms) still
	// asks every target once: a quick sweep of a quiet wired LAN. Zero
	// means DefaultARPTimeout.
	Timeout time.Duration

	// Retries is how many more requests a silent target gets. Zero means
	// DefaultARPRetries; a negative value means none.
	Retries int

	// Rate bounds the requests sent per second. The first Rate/4 (at most
	// 256) go out back to back, then one every 1/Rate seconds (at most 16
	// back to back when catching up): a /24 starts in one burst. Zero means DefaultARPRate; [LinkARPRate] picks one by the
	// kind of link.
	Rate int

	// Prior lists addresses that were live before (the kernel's neighbour
	// table: [NeighborAddrs]; an earlier sweep). Those among the targets
	// get their first request before the others, and their retries go
	// ahead of every other request once due, so they are all sent early
	// in the retry budget.
	Prior []netip.Addr

	// Progress, if set, is called from the sweeping goroutine with the
	// number of targets that answered or got their last request, at most
	// every 50 ms, and once more with done == total at the end.
	Progress func(done, total int)

	// Logger receives conflicts and send errors; nil discards.
	Logger *slog.Logger
}

// ARPReply is a host that answered an ARP sweep.
type ARPReply struct {
	Addr netip.Addr
	// MAC is the first hardware address that claimed Addr.
	MAC net.HardwareAddr
	// Conflict lists the other hardware addresses that claimed Addr during
	// the sweep, in the order they were seen: an IP address conflict, a
	// proxy, or a host that moved.
	Conflict []net.HardwareAddr
	// RTT is the time from the latest request to Addr until its first
	// claim arrived; zero if the host announced itself before it was asked.
	RTT time.Duration
}

// ARPScanner sends ARP requests on one link and collects the answers.
// A Sweep at a time.
type ARPScanner struct {
	sock
	mac   net.HardwareAddr
	addrs []netip.Prefix
}

// NewARP returns an ARPScanner that writes Ethernet frames to conn and
// reads them from it. mac is the link's hardware address and addrs its IPv4
// addresses; each request is sent from the address whose prefix holds the
// target, else from the first. Frames are written to a *packet.Addr with
// the broadcast address, and every frame conn returns, including garbage
// and our own requests, is filtered. Close closes conn.
func NewARP(conn net.PacketConn, mac net.HardwareAddr, addrs []netip.Prefix) (*ARPScanner, error) {
	if len(mac) != 6 {
		return nil, fmt.Errorf("scan: hardware address %q is not Ethernet: ARP needs a 6-byte MAC", mac)
	}
	var v4 []netip.Prefix
	for _, p := range addrs {
		if p.Addr().Is4() {
			v4 = append(v4, p)
		}
	}
	if len(v4) == 0 {
		return nil, errors.New("scan: no IPv4 address to send ARP requests from: give the interface one")
	}
	return &ARPScanner{sock: sock{conn: conn}, mac: slices.Clone(mac), addrs: v4}, nil
}

// SweepARP opens a raw socket on ifi, sweeps targets and closes the socket.
// See [ARPScanner.Sweep].
func SweepARP(ctx context.Context, ifi *net.Interface, targets []netip.Addr, cfg *ARPConfig) ([]ARPReply, error) {
	return dialDo(func() (*ARPScanner, error) { return DialARP(ifi) },
		func(s *ARPScanner) ([]ARPReply, error) { return s.Sweep(ctx, targets, cfg) })
}

// Sweep asks every target for its hardware address and returns the hosts
// that claimed one, sorted by address. Targets must be IPv4; duplicates are
// swept once. Any ARP frame whose sender is a target counts, including
// gratuitous ARP. When ctx ends, Sweep returns what it found so far with
// ctx.Err(). Sweep changes the connection's read deadline.
func (s *ARPScanner) Sweep(ctx context.Context, targets []netip.Addr, cfg *ARPConfig) ([]ARPReply, error) {
	sw, err := newARPSweep(s, targets, cfg)
	if err != nil || len(sw.addrs) == 0 {
		return nil, err
	}
	events := make(chan arpEvent, 256)
	stop := make(chan struct{})
	readDone := make(chan struct{})
	var readErr error
	go func() {
		defer close(readDone)
		readErr = s.readLoop(stop, events)
	}()

	err = sw.run(ctx, events, readDone, &readErr)

	s.stopReader(stop, readDone, sw.log, "arp")
	return sw.results(), err
}

// arpEvent is one ARP frame that claims an address.
type arpEvent struct {
	addr  netip.Addr
	mac   [6]byte
	reply bool
	at    time.Time
}

// readLoop reads frames until the conn fails or stop is closed, and sends
// every claim to events.
func (s *ARPScanner) readLoop(stop <-chan struct{}, events chan<- arpEvent) error {
	err := readTo(&s.sock, 1514, stop, events, func(b []byte, _ net.Addr) (arpEvent, bool) {
		ev, ok := parseARPFrame(b)
		if !ok || ev.mac == [6]byte(s.mac) {
			return arpEvent{}, false
		}
		ev.at = time.Now()
		return ev, true
	})
	if err != nil {
		return fmt.Errorf("scan: reading ARP: %w", err)
	}
	return nil
}

// parseARPFrame extracts the claim "addr is at mac" from an Ethernet frame
// carrying an ARP request or reply. It reports false for anything else.
func parseARPFrame(b []byte) (arpEvent, bool) {
	var f ethernet.Frame
	if err := f.UnmarshalBinary(b); err != nil || f.EtherType != ethernet.EtherTypeARP {
		return arpEvent{}, false
	}
	var p arp.Packet
	if err := p.UnmarshalBinary(f.Payload); err != nil {
		return arpEvent{}, false
	}
	if p.HardwareType != 1 || p.ProtocolType != uint16(ethernet.EtherTypeIPv4) ||
		p.HardwareAddrLength != 6 || p.IPLength != 4 {
		return arpEvent{}, false
	}
	if p.Operation != arp.OperationRequest && p.Operation != arp.OperationReply {
		return arpEvent{}, false
	}
	ip := p.SenderIP
	if !ip.Is4() || ip.IsUnspecified() || ip.IsMulticast() || ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return arpEvent{}, false // ARP probes (RFC 5227) claim nothing
	}
	mac := [6]byte(p.SenderHardwareAddr)
	if mac == [6]byte{} || mac[0]&1 != 0 {
		return arpEvent{}, false
	}
	return arpEvent{addr: ip, mac: mac, reply: p.Operation == arp.OperationReply}, true
}

// arpRequest returns a broadcast Ethernet frame carrying an ARP request
// from mac/src for target.
func arpRequest(mac net.HardwareAddr, src, target netip.Addr) ([]byte, error) {
	p, err := arp.NewPacket(arp.OperationRequest, mac, src, make(net.HardwareAddr, 6), target)
	if err != nil {
		return nil, err
	}
	payload, err := p.MarshalBinary()
	if err != nil {
		return nil, err
	}
	f := &ethernet.Frame{Destination: ethernet.Broadcast, Source: mac, EtherType: ethernet.EtherTypeARP, Payload: payload}
	return f.MarshalBinary()
}

// source returns the address to send a request for target from.
func (s *ARPScanner) source(target netip.Addr) netip.Addr {
	for _, p := range s.addrs {
		if p.Masked().Contains(target) {
			return p.Addr()
		}
	}
	return s.addrs[0].Addr()
}
