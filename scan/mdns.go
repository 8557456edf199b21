package scan

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/hashicorp/mdns"
	"github.com/miekg/dns"
)

// MDNSConfig tunes BrowseMDNS. A nil *MDNSConfig applies the defaults.
type MDNSConfig struct {
	// Timeout bounds the whole browse. Zero means 1 s.
	Timeout time.Duration
	// Quiet ends the browse before Timeout once addrs is closed, every
	// query had its retransmission, and nothing was sent or learned for
	// this long. Zero means 250 ms.
	Quiet time.Duration
	// Logger receives debug messages about ignored packets and failed
	// sends. Nil discards them.
	Logger *slog.Logger
}

// MDNSHost is what mDNS responders on the link said about one address.
type MDNSHost struct {
	Addr     netip.Addr // IPv4 only
	Names    []string   // host names without the trailing dot, lowercase, sorted: "labhost2.local"
	Services []string   // DNS-SD service types, sorted: "_ssh._tcp"
}

// Defaults of MDNSConfig and fixed timings of BrowseMDNS.
const (
	defaultMDNSTimeout = time.Second
	defaultMDNSQuiet   = 250 * time.Millisecond
	// retransmitAfter is when a query without an answer is sent again
	// (once), to survive the loss of a query or its answer.
	retransmitAfter = 150 * time.Millisecond
	// instanceWindow is how long hashicorp/mdns listens for the instances
	// of one service type (it always listens for its full timeout).
	instanceWindow = 300 * time.Millisecond
	maxResolvers   = 16   // hashicorp/mdns queries per browse (each opens sockets)
	maxQuestions   = 4096 // distinct questions per browse
	maxPacket      = 9000 // RFC 6762 section 17
	queryBudget    = 1400 // bytes of questions packed into one query
)

// mdnsPort is the port of group, from which responses come.
func mdnsPort(group net.Addr) uint16 {
	if u, ok := group.(*net.UDPAddr); ok {
		return uint16(u.Port)
	}
	return 5353
}

// mdnsGroup is where mDNS queries go (RFC 6762).
var mdnsGroup = &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 5353}

// BrowseMDNS asks the mDNS responders on ifi's link for host names and
// DNS-SD service types, and attributes them to IPv4 addresses. It browses
// _services._dns-sd._udp.local, resolves the instances of every type found
// (PTR, then SRV, then A of the target), and reverse-resolves (PTR of
// d.c.b.a.in-addr.arpa) every address it learns and every address received
// on addrs while it runs; every answer heard on the link is used, whoever
// asked. Queries go to 224.0.0.251 on ifi only (TTL 255) and are sent a
// second time when no answer arrived.
//
// BrowseMDNS returns after cfg.Timeout, or earlier once addrs is closed (or
// nil) and the link has gone quiet. It stops receiving from addrs when it
// returns, so senders must not block on addrs forever (select on a done
// channel or buffer it). When ctx ends first it returns what it found and
// ctx.Err(). Hosts are sorted by address.
//
// It needs no privileges on Linux, though binding to ifi (SO_BINDTODEVICE)
// needs CAP_NET_RAW; without it, unicast answers from other interfaces are
// accepted too.
func BrowseMDNS(ctx context.Context, ifi *net.Interface, addrs <-chan netip.Addr, cfg *MDNSConfig) ([]MDNSHost, error) {
	if ifi == nil {
		return nil, errors.New("mdns: no interface given")
	}
	log := mdnsLogger(cfg)
	conn, qu, err := listenMDNS(ifi, log)
	if err != nil {
		return nil, fmt.Errorf("mdns on %s: %w", ifi.Name, err)
	}
	b := newBrowser(conn, mdnsGroup, cfg)
	b.unicast = qu
	b.resolve = hashicorpResolver(ifi, log)
	return b.run(ctx, addrs)
}

func mdnsLogger(cfg *MDNSConfig) *slog.Logger {
	if cfg == nil || cfg.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return cfg.Logger
}

// resolveFunc lists the instances of one service type ("_ssh._tcp") for at
// most window, sending entries to out without blocking.
type resolveFunc func(ctx context.Context, typ string, window time.Duration, out chan<- *mdns.ServiceEntry) error

// hashicorpResolver resolves service instances with hashicorp/mdns on ifi.
func hashicorpResolver(ifi *net.Interface, log *slog.Logger) resolveFunc {
	std := slog.NewLogLogger(log.Handler(), slog.LevelDebug)
	return func(ctx context.Context, typ string, window time.Duration, out chan<- *mdns.ServiceEntry) error {
		return mdns.QueryContext(ctx, &mdns.QueryParam{
			Service:             typ,
			Domain:              "local",
			Timeout:             window,
			Interface:           ifi,
			Entries:             out,
			WantUnicastResponse: true,
			DisableIPv6:         true, // a failing IPv6 send would abort the query
			Logger:              std,
		})
	}
}

// browser runs one browse over a packet conn. It is not safe for
// concurrent use; run owns and closes the conn.
type browser struct {
	conn    net.PacketConn
	group   net.Addr // where queries go
	unicast bool     // conn is on port 5353: ask for unicast answers (QU) first
	resolve resolveFunc
	log     *slog.Logger
	timeout time.Duration
	quiet   time.Duration

	state     *mdnsState
	asked     map[dns.Question]*asked
	fresh     []dns.Question // asked, not sent yet
	resolvers int            // hashicorp/mdns queries started
	noBrowse  bool           // tests: only reverse-resolve addrs
	active    time.Time      // last send or new answer
}

type asked struct {
	sentAt time.Time
	sends  int
}

type mdnsPacket struct {
	data []byte
	src  netip.AddrPort
}

func newBrowser(conn net.PacketConn, group net.Addr, cfg *MDNSConfig) *browser {
	b := &browser{
		conn:    conn,
		group:   group,
		log:     mdnsLogger(cfg),
		timeout: defaultMDNSTimeout,
		quiet:   defaultMDNSQuiet,
		state:   newMDNSState(mdnsPort(group)),
		asked:   make(map[dns.Question]*asked),
	}
	if cfg != nil && cfg.Timeout > 0 {
		b.timeout = cfg.Timeout
	}
	if cfg != nil && cfg.Quiet > 0 {
		b.quiet = cfg.Quiet
	}
	return b
}

// run browses until the timeout, the quiet period or the end of parent,
// then closes the conn and waits for its goroutines.
func (b *browser) run(parent context.Context, addrs <-chan netip.Addr) ([]MDNSHost, error) {
	start := time.Now()
	ctx, cancel := context.WithDeadline(parent, start.Add(b.timeout))
	var wg sync.WaitGroup
	defer func() {
		cancel()
		b.conn.Close()
		wg.Wait()
	}()
	packets := make(chan mdnsPacket, 64)
	wg.Go(func() { b.read(ctx, packets) })
	entries := make(chan []dns.RR, 64)
	resolved := make(chan struct{}, maxResolvers)
	running := 0

	if !b.noBrowse {
		b.ask(question(servicesName, dns.TypePTR))
	}
	if err := b.flush(start); err != nil {
		return nil, fmt.Errorf("mdns: send query: %w", err)
	}
	timer := time.NewTimer(b.timeout)
	defer timer.Stop()
	for {
		now := time.Now()
		next, done := b.next(now, addrs == nil && running == 0)
		if done {
			b.log.Debug("mdns: quiet, done", "t", time.Since(start))
			break
		}
		timer.Reset(next.Sub(now))
		select {
		case <-ctx.Done():
			b.log.Debug("mdns: window ended", "t", time.Since(start))
			if err := parent.Err(); err != nil {
				return b.state.result(), err
			}
			return b.state.result(), nil
		case p := <-packets:
			changed, follow := b.state.handlePacket(p.data, p.src)
			b.log.Debug("mdns: packet", "src", p.src, "changed", changed, "follow", len(follow), "t", time.Since(start))
			b.learned(changed, follow)
			for _, q := range follow {
				if typ, ok := serviceType(q.Name); ok && q.Qtype == dns.TypePTR && b.resolve != nil && b.resolvers < maxResolvers {
					b.resolvers++
					running++
					wg.Go(func() { b.resolveType(ctx, typ, entries, resolved) })
				}
			}
		case rrs := <-entries:
			b.learned(b.state.handleRecords(rrs))
		case <-resolved:
			running--
			b.log.Debug("mdns: resolver done", "t", time.Since(start))
		case a, ok := <-addrs:
			if !ok {
				addrs = nil
				continue
			}
			if usableAddr(a) {
				b.ask(reverseQuestion(a))
			}
		case <-timer.C:
			b.retransmit(time.Now())
		}
		b.flush(time.Now())
	}
	return b.state.result(), nil
}

// learned asks follow-up questions and notes activity.
func (b *browser) learned(changed bool, follow []dns.Question) {
	if changed {
		b.active = time.Now()
	}
	b.ask(follow...)
}

// next returns when the loop must wake up (a retransmission is due or the
// quiet period ends), and done once it may finish: idle is set when no
// addresses or hashicorp/mdns entries can still arrive.
func (b *browser) next(now time.Time, idle bool) (wake time.Time, done bool) {
	waiting := false
	wake = now.Add(b.timeout)
	for q, a := range b.asked {
		if a.sends == 1 && !b.state.answered(q) {
			waiting = true
			if t := a.sentAt.Add(retransmitAfter); t.Before(wake) {
				wake = t
			}
		}
	}
	if !idle || waiting {
		return wake, false
	}
	end := b.active.Add(b.quiet)
	if !now.Before(end) {
		return now, true
	}
	return end, false
}

// ask queues questions not asked before.
func (b *browser) ask(qs ...dns.Question) {
	for _, q := range qs {
		if _, ok := b.asked[q]; ok {
			continue
		}
		if len(b.asked) >= maxQuestions {
			b.log.Debug("mdns: too many questions, ignoring", "name", q.Name)
			continue
		}
		b.asked[q] = &asked{}
		b.fresh = append(b.fresh, q)
	}
}

// retransmit sends again every question sent once, long enough ago, and
// still unanswered. The second send never asks for a unicast answer, so
// the answer is multicast and reaches us even when another mDNS socket on
// this machine takes port 5353's unicast traffic.
func (b *browser) retransmit(now time.Time) {
	var qs []dns.Question
	for q, a := range b.asked {
		if a.sends == 1 && now.Sub(a.sentAt) >= retransmitAfter && !b.state.answered(q) {
			qs = append(qs, q)
			a.sends++
			a.sentAt = now
		}
	}
	if len(qs) == 0 {
		return
	}
	if err := b.send(qs, false); err != nil {
		b.log.Debug("mdns: retransmit", "err", err)
	}
	b.active = now
}

// flush sends the questions asked since the last flush.
func (b *browser) flush(now time.Time) error {
	if len(b.fresh) == 0 {
		return nil
	}
	qs := b.fresh
	b.fresh = nil
	for _, q := range qs {
		b.asked[q].sends = 1
		b.asked[q].sentAt = now
	}
	b.active = now
	err := b.send(qs, b.unicast)
	if err != nil {
		b.log.Debug("mdns: send", "err", err)
	}
	return err
}

// send packs questions into as few queries as fit queryBudget.
func (b *browser) send(qs []dns.Question, qu bool) error {
	var errs []error
	for len(qs) > 0 {
		m := new(dns.Msg)
		for len(qs) > 0 && (len(m.Question) == 0 || m.Len() < queryBudget) {
			q := qs[0]
			if qu {
				q.Qclass |= 1 << 15 // RFC 6762 section 5.4
			}
			m.Question = append(m.Question, q)
			qs = qs[1:]
		}
		buf, err := m.Pack()
		if err == nil {
			_, err = b.conn.WriteTo(buf, b.group)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// read hands every packet to the loop until the conn is closed.
func (b *browser) read(ctx context.Context, out chan<- mdnsPacket) {
	buf := make([]byte, maxPacket)
	for {
		n, from, err := b.conn.ReadFrom(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				b.log.Debug("mdns: read", "err", err)
			}
			return
		}
		var src netip.AddrPort
		if u, ok := from.(*net.UDPAddr); ok {
			src = u.AddrPort()
		}
		select {
		case out <- mdnsPacket{data: append([]byte(nil), buf[:n]...), src: src}:
		case <-ctx.Done():
			return
		}
	}
}

// resolveType runs b.resolve for one service type and sends the records
// of its entries to out. hashicorp/mdns drops entries it cannot send at
// once, so its channel is buffered and drained concurrently; and it keeps
// updating an entry after sending it, until the query ends, so entries are
// read only then.
func (b *browser) resolveType(ctx context.Context, typ string, out chan<- []dns.RR, done chan<- struct{}) {
	defer func() { done <- struct{}{} }()
	window := instanceWindow
	if d, ok := ctx.Deadline(); ok && time.Until(d) < window {
		window = time.Until(d)
	}
	if window <= 0 {
		return
	}
	ch := make(chan *mdns.ServiceEntry, 64)
	var got []*mdns.ServiceEntry
	var drain sync.WaitGroup
	drain.Go(func() {
		for e := range ch {
			if len(got) < maxMDNSInstances {
				got = append(got, e)
			}
		}
	})
	if err := b.resolve(ctx, typ, window, ch); err != nil {
		b.log.Debug("mdns: resolve instances", "type", typ, "err", err)
	}
	close(ch)
	drain.Wait()
	for _, e := range got {
		select {
		case out <- entryRecords(e):
		case <-ctx.Done():
			return
		}
	}
}

// entryRecords turns a hashicorp/mdns entry back into the SRV and A
// records it was built from, so it goes through the same checks as every
// other answer.
func entryRecords(e *mdns.ServiceEntry) []dns.RR {
	if e == nil || e.Name == "" || e.Host == "" {
		return nil
	}
	hdr := func(name string, t uint16) dns.RR_Header {
		return dns.RR_Header{Name: dns.Fqdn(name), Rrtype: t, Class: dns.ClassINET, Ttl: 120}
	}
	rrs := []dns.RR{&dns.SRV{Hdr: hdr(e.Name, dns.TypeSRV), Port: uint16(e.Port), Target: dns.Fqdn(e.Host)}}
	if ip4 := e.AddrV4.To4(); ip4 != nil {
		rrs = append(rrs, &dns.A{Hdr: hdr(e.Host, dns.TypeA), A: ip4})
	}
	return rrs
}
