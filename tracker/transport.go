package tracker

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/memberlist"
)

// streamTransport is memberlist's transport that tells the gate the
// remote address of every inbound stream: a completed TCP handshake
// proves the peer owns that address, which a UDP spoofer cannot fake. It
// also counts the packets, streams and bytes in stats.
type streamTransport struct {
	memberlist.NodeAwareTransport
	seen    func(netip.Addr)
	stats   *stats
	in      chan net.Conn
	packets chan *memberlist.Packet
	done    chan struct{} // closing: streams are no longer passed on
	gone    chan struct{} // the wrapped transport is down
	once    sync.Once
	wg      sync.WaitGroup
}

func newStreamTransport(inner memberlist.Transport, seen func(netip.Addr), st *stats) *streamTransport {
	na, ok := inner.(memberlist.NodeAwareTransport)
	if !ok {
		na = nodeAware{inner}
	}
	s := &streamTransport{NodeAwareTransport: na, seen: seen, stats: st, in: make(chan net.Conn),
		packets: make(chan *memberlist.Packet), done: make(chan struct{}), gone: make(chan struct{})}
	s.wg.Add(2)
	go s.forward()
	go s.forwardPackets()
	return s
}

// StreamCh implements memberlist.Transport.
func (s *streamTransport) StreamCh() <-chan net.Conn { return s.in }

// PacketCh implements memberlist.Transport.
func (s *streamTransport) PacketCh() <-chan *memberlist.Packet { return s.packets }

// WriteToAddress implements memberlist.NodeAwareTransport.
func (s *streamTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	t, err := s.NodeAwareTransport.WriteToAddress(b, a)
	if err == nil {
		s.stats.sent(len(b))
	}
	return t, err
}

// WriteTo implements memberlist.Transport.
func (s *streamTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	return s.WriteToAddress(b, memberlist.Address{Addr: addr})
}

// DialAddressTimeout implements memberlist.NodeAwareTransport.
func (s *streamTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	c, err := s.NodeAwareTransport.DialAddressTimeout(a, timeout)
	if err != nil {
		return nil, err
	}
	s.stats.sent(0)
	return countedConn{c, s.stats}, nil
}

// DialTimeout implements memberlist.Transport.
func (s *streamTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return s.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

// forwardPackets passes inbound packets to memberlist, counting them.
// Once closing it drops them (the wrapped transport's listener blocks
// until someone takes them), until the transport is down.
func (s *streamTransport) forwardPackets() {
	defer s.wg.Done()
	src := s.NodeAwareTransport.PacketCh()
	for {
		select {
		case <-s.gone:
			return
		case p, ok := <-src:
			if !ok {
				return
			}
			s.stats.received(len(p.Buf))
			select {
			case s.packets <- p:
			case <-s.done:
			}
		}
	}
}

// forward passes inbound streams to memberlist, noting their remote
// address. Once closing it closes them instead (the transport's
// listener blocks until someone takes them), until the transport is
// down.
func (s *streamTransport) forward() {
	defer s.wg.Done()
	src := s.NodeAwareTransport.StreamCh()
	for {
		select {
		case <-s.gone:
			return
		case c := <-src:
			if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
				s.seen(ap.Addr().Unmap())
			}
			s.stats.received(0)
			select {
			case s.in <- countedConn{c, s.stats}:
			case <-s.done:
				c.Close()
			}
		}
	}
}

// Shutdown implements memberlist.Transport.
func (s *streamTransport) Shutdown() error { return s.stop(true) }

// stop ends forward, shutting the wrapped transport down first if
// inner; it is idempotent.
func (s *streamTransport) stop(inner bool) error {
	var err error
	s.once.Do(func() {
		close(s.done)
		if inner {
			err = s.NodeAwareTransport.Shutdown()
		}
		close(s.gone)
		s.wg.Wait()
	})
	return err
}

// nodeAware adapts a plain memberlist.Transport, as memberlist does.
type nodeAware struct{ memberlist.Transport }

func (n nodeAware) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	return n.WriteTo(b, a.Addr)
}

func (n nodeAware) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	return n.DialTimeout(a.Addr, timeout)
}

// newSockets opens the sockets for a config without a Transport: on port
// 0 it retries a few times (the port must be free for UDP and TCP) and
// sets the bind and advertise ports to the one it got.
func newSockets(mc *memberlist.Config, seen func(netip.Addr), st *stats) (*sockets, error) {
	ip, err := netip.ParseAddr(mc.BindAddr)
	if err != nil {
		return nil, fmt.Errorf("bind address %q: %w", mc.BindAddr, err)
	}
	tries := 1
	if mc.BindPort == 0 {
		tries = 10
	}
	for range tries {
		var s *sockets
		if s, err = listenSockets(netip.AddrPortFrom(ip, uint16(mc.BindPort)), seen, st); err == nil {
			if mc.BindPort == 0 {
				mc.BindPort = s.port()
				mc.AdvertisePort = mc.BindPort
			}
			return s, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	return nil, fmt.Errorf("bind %s port %d: %w", mc.BindAddr, mc.BindPort, err)
}

// createMemberlist starts memberlist on mc's transport, wrapped to
// report inbound streams to seen and count the traffic in st, or on
// sockets that do so themselves when mc has none.
func createMemberlist(mc *memberlist.Config, seen func(netip.Addr), st *stats) (*memberlist.Memberlist, error) {
	var stop func()
	if mc.Transport == nil {
		s, err := newSockets(mc, seen, st)
		if err != nil {
			return nil, err
		}
		mc.Transport, stop = s, func() { s.Shutdown() }
	} else {
		tr := newStreamTransport(mc.Transport, seen, st)
		mc.Transport, stop = tr, func() { tr.stop(false) }
	}
	ml, err := memberlist.Create(mc)
	if err != nil {
		stop()
		return nil, err
	}
	return ml, nil
}
