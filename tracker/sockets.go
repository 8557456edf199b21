package tracker

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	sockaddr "github.com/hashicorp/go-sockaddr"
	"github.com/hashicorp/memberlist"
)

// sockets is the transport a tracker uses when its config brings none:
// memberlist's NetTransport on one address, minus its per-packet costs.
// NetTransport reads every UDP packet into a fresh 64 KiB buffer (an
// allocation the garbage collector then clears and sweeps, for each ping
// and ack) and hands it over through a channel; sockets reads into one
// buffer, hands memberlist a copy of the bytes received, and reports
// inbound streams and traffic (see streamTransport) itself, without a
// goroutine in between. On an idle 30-agent cluster that was about a
// tenth of each agent's CPU (issue 15).
type sockets struct {
	tcp     *net.TCPListener
	udp     *net.UDPConn
	bind    netip.Addr
	seen    func(netip.Addr)
	stats   *stats
	packets chan *memberlist.Packet
	streams chan net.Conn
	done    chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
}

const (
	maxPacket      = 65536           // bytes read per UDP packet, as memberlist
	udpReadBuffer  = 2 * 1024 * 1024 // socket receive buffer asked for, as memberlist
	acceptBackoff  = 5 * time.Millisecond
	acceptBackoffM = time.Second
)

var _ memberlist.NodeAwareTransport = (*sockets)(nil)

// listenSockets opens the TCP listener and UDP socket on addr (port 0:
// one free for both) and starts reading them.
func listenSockets(addr netip.AddrPort, seen func(netip.Addr), st *stats) (*sockets, error) {
	tcp, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(addr))
	if err != nil {
		return nil, err
	}
	port := uint16(tcp.Addr().(*net.TCPAddr).Port)
	udp, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr.Addr(), port)))
	if err != nil {
		tcp.Close()
		return nil, err
	}
	for size := udpReadBuffer; size > 0 && udp.SetReadBuffer(size) != nil; size /= 2 {
	}
	s := &sockets{tcp: tcp, udp: udp, bind: addr.Addr(), seen: seen, stats: st,
		packets: make(chan *memberlist.Packet), streams: make(chan net.Conn), done: make(chan struct{})}
	s.wg.Add(2)
	go s.readPackets()
	go s.accept()
	return s, nil
}

// port returns the port both sockets are bound to.
func (s *sockets) port() int { return s.tcp.Addr().(*net.TCPAddr).Port }

// FinalAdvertiseAddr implements memberlist.Transport as NetTransport
// does: the given address, else a private address when bound to
// 0.0.0.0, else the bound one.
func (s *sockets) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	if ip != "" {
		a := net.ParseIP(ip)
		if a == nil {
			return nil, 0, fmt.Errorf("failed to parse advertise address %q", ip)
		}
		if a4 := a.To4(); a4 != nil {
			a = a4
		}
		return a, port, nil
	}
	if s.bind != netip.IPv4Unspecified() {
		return s.bind.AsSlice(), s.port(), nil
	}
	priv, err := sockaddr.GetPrivateIP()
	if err != nil {
		return nil, 0, fmt.Errorf("failed to get interface addresses: %v", err)
	}
	a := net.ParseIP(priv)
	if a == nil {
		return nil, 0, errors.New("no private IP address found, and explicit IP not provided")
	}
	return a, s.port(), nil
}

// WriteTo implements memberlist.Transport.
func (s *sockets) WriteTo(b []byte, addr string) (time.Time, error) {
	return s.WriteToAddress(b, memberlist.Address{Addr: addr})
}

// WriteToAddress implements memberlist.NodeAwareTransport.
func (s *sockets) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	to, err := netip.ParseAddrPort(a.Addr)
	if err != nil { // a host name: resolve it, as NetTransport does
		ua, rerr := net.ResolveUDPAddr("udp", a.Addr)
		if rerr != nil {
			return time.Time{}, rerr
		}
		to = ua.AddrPort()
	}
	_, err = s.udp.WriteToUDPAddrPort(b, to)
	if err == nil {
		s.stats.sent(len(b))
	}
	return time.Now(), err
}

// PacketCh implements memberlist.Transport.
func (s *sockets) PacketCh() <-chan *memberlist.Packet { return s.packets }

// DialTimeout implements memberlist.Transport.
func (s *sockets) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return s.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

// DialAddressTimeout implements memberlist.NodeAwareTransport.
func (s *sockets) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	c, err := d.Dial("tcp", a.Addr)
	if err != nil {
		return nil, err
	}
	s.stats.sent(0)
	return countedConn{c, s.stats}, nil
}

// StreamCh implements memberlist.Transport.
func (s *sockets) StreamCh() <-chan net.Conn { return s.streams }

// Shutdown implements memberlist.Transport: it closes both sockets and
// waits for the readers. It is idempotent.
func (s *sockets) Shutdown() error {
	s.once.Do(func() {
		close(s.done)
		s.tcp.Close()
		s.udp.Close()
		s.wg.Wait()
	})
	return nil
}

func (s *sockets) closing() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// readPackets passes each UDP packet to memberlist, a copy of its bytes,
// until Shutdown.
func (s *sockets) readPackets() {
	defer s.wg.Done()
	buf := make([]byte, maxPacket)
	for {
		n, from, err := s.udp.ReadFromUDP(buf)
		now := time.Now()
		if err != nil {
			if s.closing() {
				return
			}
			continue
		}
		if n < 1 {
			continue
		}
		s.stats.received(n)
		select {
		case s.packets <- &memberlist.Packet{Buf: append([]byte(nil), buf[:n]...), From: from, Timestamp: now}:
		case <-s.done:
			return
		}
	}
}

// accept passes inbound streams to memberlist, telling seen who opened
// them, until Shutdown.
func (s *sockets) accept() {
	defer s.wg.Done()
	var backoff time.Duration
	for {
		c, err := s.tcp.AcceptTCP()
		if err != nil {
			if s.closing() {
				return
			}
			backoff = min(max(2*backoff, acceptBackoff), acceptBackoffM)
			select { // out of descriptors: do not spin
			case <-time.After(backoff):
			case <-s.done:
				return
			}
			continue
		}
		backoff = 0
		s.seen(c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap())
		s.stats.received(0)
		select {
		case s.streams <- countedConn{c, s.stats}:
		case <-s.done:
			c.Close()
			return
		}
	}
}
