package main

import (
	"io"
	"log"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// countingTransport is memberlist's NetTransport on loopback that counts
// the bytes it sends (UDP and TCP) and drops a share of its outgoing UDP
// packets at random. TCP is not dropped: real loss only delays it.
type countingTransport struct {
	*memberlist.NetTransport
	sent    atomic.Int64
	loss    float64
	streams chan net.Conn
	stop    chan struct{}
	dead    chan struct{}
	once    sync.Once
}

func newCountingTransport(loss float64) (*countingTransport, error) {
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
		BindAddrs: []string{"127.0.0.1"},
		BindPort:  0,
		Logger:    log.New(io.Discard, "", 0),
	})
	if err != nil {
		return nil, err
	}
	c := &countingTransport{NetTransport: nt, loss: loss, streams: make(chan net.Conn), stop: make(chan struct{}), dead: make(chan struct{})}
	go c.forward()
	return c, nil
}

// forward wraps accepted streams so their writes are counted. After
// stop it keeps draining (closing) streams until the NetTransport is
// down, since its listener blocks on handing them over.
func (c *countingTransport) forward() {
	in := c.NetTransport.StreamCh()
	for {
		select {
		case conn := <-in:
			select {
			case c.streams <- &countingConn{Conn: conn, n: &c.sent}:
			case <-c.stop:
				conn.Close()
			}
		case <-c.dead:
			return
		}
	}
}

func (c *countingTransport) StreamCh() <-chan net.Conn { return c.streams }

func (c *countingTransport) Shutdown() error {
	var err error
	c.once.Do(func() {
		close(c.stop)
		err = c.NetTransport.Shutdown()
		close(c.dead)
	})
	return err
}

func (c *countingTransport) drop() bool { return c.loss > 0 && rand.Float64() < c.loss }

func (c *countingTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	if c.drop() {
		return time.Now(), nil
	}
	c.sent.Add(int64(len(b)))
	return c.NetTransport.WriteTo(b, addr)
}

func (c *countingTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	if c.drop() {
		return time.Now(), nil
	}
	c.sent.Add(int64(len(b)))
	return c.NetTransport.WriteToAddress(b, a)
}

func (c *countingTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	conn, err := c.NetTransport.DialTimeout(addr, timeout)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: conn, n: &c.sent}, nil
}

func (c *countingTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	conn, err := c.NetTransport.DialAddressTimeout(a, timeout)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: conn, n: &c.sent}, nil
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.n.Add(int64(n))
	return n, err
}
