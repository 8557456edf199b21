package sdjoincmd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"github.com/urfave/cli/v2"
	"golang.org/x/net/netutil"

	"github.com/ipfinder-go/ipfinder/internal/cliutil"
	"github.com/ipfinder-go/ipfinder/tracker"
)

// dnsOptions are the validated DNS interface flags.
type dnsOptions struct {
	addr   netip.AddrPort // --dns; zero: off
	domain string         // --dns-domain as a lower-case FQDN
	ttl    uint32         // --dns-ttl in seconds
}

// Defaults and bounds of the DNS interface.
const (
	defaultDNSDomain = "sdjoin."
	maxDNSTTL        = 24 * time.Hour
	maxDNSDomain     = 128 // bytes, leaving room for NAME.service.
	maxDNSConns      = 64  // TCP connections served at once
	dnsReadTimeout   = 2 * time.Second
	dnsIdleTimeout   = 5 * time.Second // between queries on one TCP connection
	// dnsUDPReaders read the UDP socket. One: more on one socket take
	// turns at its lock (Go's poll.FD), which cost 40-60% more agent CPU
	// per query on 2 cores, and one SO_REUSEPORT socket per reader
	// measured no better there. At 12-17 us of agent CPU per SRV query,
	// one reader answers over 50,000 queries/s.
	dnsUDPReaders = 1
)

// parseDNSOptions reads the DNS interface flags.
func parseDNSOptions(c *cli.Context) (dnsOptions, error) {
	var o dnsOptions
	s := c.String("dns")
	if s == "" {
		for _, f := range []string{"dns-domain", "dns-ttl"} {
			if c.IsSet(f) {
				return o, cliutil.Usagef("--%s needs --dns ADDR:PORT", f)
			}
		}
		return o, nil
	}
	var err error
	if o.addr, err = netip.ParseAddrPort(s); err != nil || o.addr.Addr().Zone() != "" {
		return o, cliutil.Usagef("bad --dns %q: want ADDR:PORT such as 127.0.0.1:8600", s)
	}
	if o.domain, err = parseDNSDomain(c.String("dns-domain")); err != nil {
		return o, err
	}
	ttl := c.Duration("dns-ttl")
	if ttl < 0 || ttl > maxDNSTTL || ttl%time.Second != 0 {
		return o, cliutil.Usagef("bad --dns-ttl %v: want whole seconds from 0s to %v", ttl, maxDNSTTL)
	}
	o.ttl = uint32(ttl / time.Second)
	return o, nil
}

// parseDNSDomain returns s as a lower-case FQDN when it is a domain
// name of valid labels, not the root.
func parseDNSDomain(s string) (string, error) {
	d := dns.Fqdn(strings.ToLower(s))
	ok := d != "." && len(d) <= maxDNSDomain
	for _, l := range dns.SplitDomainName(d) {
		ok = ok && validLabel(l)
	}
	if !ok {
		return "", cliutil.Usagef("bad --dns-domain %q: want a domain name such as sdjoin or sdjoin.lan (letters, digits, '-', '_')", s)
	}
	return d, nil
}

// dnsServer serves a dnsZone over UDP (our own readers, see udpServer)
// and TCP (miekg's dns.Server) on one address.
type dnsServer struct {
	udp  *udpServer
	tcp  *dns.Server
	wg   sync.WaitGroup
	errs chan error // what the TCP server returned
	once sync.Once
	// unregister removes the zone's cache from the hub; nil when not
	// registered.
	unregister func()
}

// dnsLimits bound the TCP side of a dnsServer (tests shorten them).
type dnsLimits struct {
	conns       int           // connections served at once; more wait
	read, idle  time.Duration // for the first query; between queries
	maxRequests int           // per connection
}

var defaultDNSLimits = dnsLimits{conns: maxDNSConns, read: dnsReadTimeout, idle: dnsIdleTimeout, maxRequests: 128}

// startDNS serves z on addr (UDP and TCP, the same port; port 0 picks
// one free for both) until Close.
func startDNS(addr netip.AddrPort, z *dnsZone, lim dnsLimits) (*dnsServer, error) {
	pc, ln, err := listenDNS(addr)
	if err != nil {
		return nil, fmt.Errorf("--dns %s: %w (is another DNS server using it? choose another ADDR:PORT)", addr, err)
	}
	s := &dnsServer{errs: make(chan error, 1)}
	if s.udp, err = serveUDP(pc, z, dnsUDPReaders); err != nil {
		pc.Close()
		ln.Close()
		return nil, fmt.Errorf("--dns %s: %w", addr, err)
	}
	s.tcp = &dns.Server{Listener: netutil.LimitListener(ln, lim.conns), Handler: z,
		ReadTimeout: lim.read, WriteTimeout: lim.read, MaxTCPQueries: lim.maxRequests,
		IdleTimeout: func() time.Duration { return lim.idle }}
	started := make(chan struct{})
	s.tcp.NotifyStartedFunc = func() { close(started) }
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.errs <- s.tcp.ActivateAndServe()
	}()
	select {
	case <-started:
	case err := <-s.errs:
		s.Close()
		return nil, fmt.Errorf("--dns %s: %w", addr, err)
	}
	return s, nil
}

// Addr returns the address the server answers on.
func (s *dnsServer) Addr() netip.AddrPort {
	return s.udp.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// Close stops the server, waiting up to a second for the queries being
// answered. It is idempotent.
func (s *dnsServer) Close() {
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if s.tcp.ShutdownContext(ctx) != nil {
			s.tcp.Listener.Close() // not started: closing it ends ActivateAndServe
		}
		s.udp.Close()
		s.wg.Wait()
		if s.unregister != nil {
			s.unregister()
		}
	})
}

// listenDNS opens the UDP socket and TCP listener on addr; with port 0,
// on a port free for both.
func listenDNS(addr netip.AddrPort) (*net.UDPConn, net.Listener, error) {
	var err error
	for range 10 {
		var pc *net.UDPConn
		pc, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
		if err != nil {
			return nil, nil, err
		}
		port := pc.LocalAddr().(*net.UDPAddr).AddrPort().Port()
		var ln net.Listener
		ln, err = net.Listen("tcp", netip.AddrPortFrom(addr.Addr(), port).String())
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		if addr.Port() != 0 || !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	return nil, nil, err
}

// startDNS starts the DNS interface when --dns asks for it (nil when
// not), answering from the core, and says where on stderr.
func (a *agent) startDNS() (*dnsServer, error) {
	o := a.opt.dns
	if !o.addr.IsValid() {
		return nil, nil
	}
	cache := &dnsCache{services: a.core.services, list: a.core.listServices}
	unregister := a.hub.register("", func(int) handler { return cache })
	z := &dnsZone{domain: o.domain, ttl: o.ttl, list: cache.lookup, members: a.core.members}
	s, err := startDNS(o.addr, z, defaultDNSLimits)
	if err != nil {
		unregister()
		return nil, err
	}
	s.unregister = unregister
	a.warnf("DNS interface on %s (UDP and TCP): NAME.service.%s and NODE.node.%s", s.Addr(), o.domain, o.domain)
	return s, nil
}

// dnsCache holds, per DNS label, the entries of the services answering
// it (serviceLabel), read from the core on the first query after the hub
// reported a change: between changes, queries read no tracker state. It
// is a hub handler of every event.
type dnsCache struct {
	services func() []string                            // the services with entries
	list     func(services []string) []tracker.Presence // their entries
	gen      atomic.Uint64                              // events reported

	mu      sync.Mutex // guards the fields below
	built   uint64     // gen the cache holds
	ok      bool       // built at all
	names   map[string][]string
	entries map[string][]tracker.Presence
}

func (x *dnsCache) handle(record) { x.gen.Add(1) }

// lookup returns the entries of the services whose label is label. The
// slice and its entries are shared: do not modify them.
func (x *dnsCache) lookup(label string) []tracker.Presence {
	x.mu.Lock()
	defer x.mu.Unlock()
	if g := x.gen.Load(); !x.ok || g != x.built {
		x.names = make(map[string][]string)
		x.entries = make(map[string][]tracker.Presence)
		for _, svc := range x.services() {
			if l, ok := serviceLabel(svc); ok {
				x.names[l] = append(x.names[l], svc)
			}
		}
		x.built, x.ok = g, true
	}
	ps, ok := x.entries[label]
	if !ok && len(x.names[label]) > 0 {
		ps = x.list(x.names[label])
		x.entries[label] = ps
	}
	return ps
}

// services returns the services with visible entries; offline, none.
func (c *core) services() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.t == nil {
		return nil
	}
	return c.t.Services()
}

// listServices returns the entries of the services names; offline,
// none. Like list, it reads the tracker under c.mu.
func (c *core) listServices(names []string) []tracker.Presence {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.t == nil {
		return nil
	}
	var out []tracker.Presence
	for _, svc := range names {
		out = append(out, c.t.List(svc)...)
	}
	return out
}
