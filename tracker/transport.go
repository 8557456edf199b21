package tracker

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// streamTransport is memberlist's transport that tells the gate the
// remote address of every inbound stream: a completed TCP handshake
// proves the peer owns that address, which a UDP spoofer cannot fake.
type streamTransport struct {
	memberlist.NodeAwareTransport
	seen func(netip.Addr)
	in   chan net.Conn
	done chan struct{} // closing: streams are no longer passed on
	gone chan struct{} // the wrapped transport is down
	once sync.Once
	wg   sync.WaitGroup
}

func newStreamTransport(inner memberlist.Transport, seen func(netip.Addr)) *streamTransport {
	na, ok := inner.(memberlist.NodeAwareTransport)
	if !ok {
		na = nodeAware{inner}
	}
	s := &streamTransport{NodeAwareTransport: na, seen: seen, in: make(chan net.Conn),
		done: make(chan struct{}), gone: make(chan struct{})}
	s.wg.Add(1)
	go s.forward()
	return s
}

// StreamCh implements memberlist.Transport.
func (s *streamTransport) StreamCh() <-chan net.Conn { return s.in }

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
			select {
			case s.in <- c:
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

// netTransport opens the NetTransport memberlist would, for a config
// without a Transport: on port 0 it retries a few times (the port must
// be free for UDP and TCP) and sets the bind and advertise ports to the
// one it got.
func netTransport(mc *memberlist.Config) (*memberlist.NetTransport, error) {
	nc := &memberlist.NetTransportConfig{
		BindAddrs: []string{mc.BindAddr},
		BindPort:  mc.BindPort,
		Logger:    mc.Logger,
	}
	tries := 1
	if mc.BindPort == 0 {
		tries = 10
	}
	var err error
	for range tries {
		var nt *memberlist.NetTransport
		if nt, err = memberlist.NewNetTransport(nc); err == nil {
			if mc.BindPort == 0 {
				mc.BindPort = nt.GetAutoBindPort()
				mc.AdvertisePort = mc.BindPort
			}
			return nt, nil
		}
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return nil, fmt.Errorf("bind %s port %d: %w", mc.BindAddr, mc.BindPort, err)
}

// createMemberlist starts memberlist on mc's transport (a NetTransport
// when it has none), wrapped to report inbound streams to seen.
func createMemberlist(mc *memberlist.Config, seen func(netip.Addr)) (*memberlist.Memberlist, error) {
	inner, created := mc.Transport, mc.Transport == nil
	if created {
		nt, err := netTransport(mc)
		if err != nil {
			return nil, err
		}
		inner = nt
	}
	st := newStreamTransport(inner, seen)
	mc.Transport = st
	ml, err := memberlist.Create(mc)
	if err != nil {
		st.stop(created)
		return nil, err
	}
	return ml, nil
}
