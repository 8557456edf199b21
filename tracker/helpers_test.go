package tracker

import (
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/lab"

	"github.com/hashicorp/memberlist"
)

// filterTransport is memberlist's NetTransport on loopback that can drop
// packets and refuse streams to chosen addresses (partitions) or drop a
// share of packets at random (loss).
type filterTransport struct {
	*memberlist.NetTransport
	mu      sync.Mutex
	blocked map[string]bool
	loss    float64
	delay   time.Duration // of every packet sent
	streams peak          // streams dialed and not closed
	dials   atomic.Int32  // streams dialed
}

// peak counts what is open and the most open at once.
type peak struct{ open, most atomic.Int32 }

func (p *peak) add(d int32) {
	k := p.open.Add(d)
	for m := p.most.Load(); k > m && !p.most.CompareAndSwap(m, k); m = p.most.Load() {
	}
}

// peakConn counts itself open in p until its first Close.
type peakConn struct {
	net.Conn
	p    *peak
	once sync.Once
}

func (c *peakConn) Close() error {
	c.once.Do(func() { c.p.add(-1) })
	return c.Conn.Close()
}

var errPartitioned = errors.New("test: partitioned")

func newFilterTransport(tb testing.TB, port int) *filterTransport {
	tb.Helper()
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
		BindAddrs: []string{"127.0.0.1"},
		BindPort:  port,
		Logger:    log.New(io.Discard, "", 0),
	})
	if err != nil {
		tb.Fatalf("transport on port %d: %v", port, err)
	}
	return &filterTransport{NetTransport: nt, blocked: map[string]bool{}}
}

func (f *filterTransport) drops(addr string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.blocked[addr] || f.loss > 0 && rand.Float64() < f.loss
}

func (f *filterTransport) refuses(addr string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.blocked[addr]
}

func (f *filterTransport) block(addrs ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range addrs {
		f.blocked[a] = true
	}
}

func (f *filterTransport) unblockAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.blocked)
}

func (f *filterTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	if f.drops(addr) {
		return time.Now(), nil
	}
	return f.NetTransport.WriteTo(b, addr)
}

func (f *filterTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	if f.drops(a.Addr) {
		return time.Now(), nil
	}
	f.mu.Lock()
	d := f.delay
	f.mu.Unlock()
	if d > 0 { // a loaded host: send later (an error then is a lost packet)
		b = slices.Clone(b)
		time.AfterFunc(d, func() { f.NetTransport.WriteToAddress(b, a) })
		return time.Now(), nil
	}
	return f.NetTransport.WriteToAddress(b, a)
}

func (f *filterTransport) setDelay(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.delay = d
}

func (f *filterTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	if f.refuses(addr) {
		return nil, errPartitioned
	}
	return f.NetTransport.DialTimeout(addr, timeout)
}

func (f *filterTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	if f.refuses(a.Addr) {
		return nil, errPartitioned
	}
	c, err := f.NetTransport.DialAddressTimeout(a, timeout)
	if err != nil {
		return nil, err
	}
	f.streams.add(1)
	f.dials.Add(1)
	return &peakConn{Conn: c, p: &f.streams}, nil
}

// node is a tracker on loopback under test.
type node struct {
	*Tracker
	tr   *filterTransport
	port int
}

func (n *node) addr() string { return fmt.Sprintf("127.0.0.1:%d", n.port) }

// startNode starts a tracker named NAME@127.0.0.1 on port (0: any).
func startNode(tb testing.TB, name string, port int, mod func(*Config)) *node {
	tb.Helper()
	tr := newFilterTransport(tb, port)
	mc := LANMemberlistConfig()
	mc.Transport = tr
	cfg := &Config{
		Name:              name + "@127.0.0.1",
		BindAddr:          netip.MustParseAddrPort("127.0.0.1:0"),
		Memberlist:        mc,
		ReconnectInterval: 500 * time.Millisecond,
	}
	if mod != nil {
		mod(cfg)
	}
	t, err := New(cfg)
	if err != nil {
		tr.Shutdown()
		tb.Fatalf("start %s: %v", name, err)
	}
	n := &node{Tracker: t, tr: tr, port: tr.GetAutoBindPort()}
	tb.Cleanup(func() { n.Close() })
	return n
}

// startCluster starts n joined nodes named node0..node(n-1).
func startCluster(tb testing.TB, n int, mod func(*Config)) []*node {
	tb.Helper()
	nodes := make([]*node, n)
	for i := range nodes {
		nodes[i] = startNode(tb, fmt.Sprintf("node%d", i), 0, mod)
		if i > 0 {
			if _, err := nodes[i].Join([]string{nodes[0].addr()}); err != nil {
				tb.Fatalf("join node%d: %v", i, err)
			}
		}
	}
	waitFullMembership(tb, nodes)
	return nodes
}

// waitFullMembership waits until every node sees all of nodes.
func waitFullMembership(tb testing.TB, nodes []*node) {
	tb.Helper()
	lab.Eventually(tb, 10*time.Second, "full membership", func() error {
		for _, nd := range nodes {
			if got := len(nd.Members()); got != len(nodes) {
				return fmt.Errorf("%s sees %d members, want %d", nd.LocalNode(), got, len(nodes))
			}
		}
		return nil
	})
}

// keysOf lists node/key of a service's entries as seen by n.
func keysOf(n *node, service string) []string {
	var out []string
	for _, p := range n.List(service) {
		out = append(out, p.Node+"/"+p.Key)
	}
	return out
}
