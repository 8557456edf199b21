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

	"github.com/miekg/dns"
)

// MDNSConfig tunes a browse. A nil *MDNSConfig applies the defaults.
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
	// Addr is the IPv4 address, or for a host known only by AAAA
	// records its lowest global or unique local IPv6 address, else its
	// lowest link-local one.
	Addr     netip.Addr
	Names    []string     // host names without the trailing dot, lowercase, sorted: "labhost2.local"
	Services []string     // DNS-SD service types, sorted: "_ssh._tcp"
	IPv6     []netip.Addr // from the AAAA records of Names, sorted; link-local ones with the interface as zone
}

// Defaults of MDNSConfig and fixed timings of BrowseMDNS.
const (
	defaultMDNSTimeout = time.Second
	defaultMDNSQuiet   = 250 * time.Millisecond
	// retransmitAfter is when a query without an answer is sent again
	// (once), to survive the loss of a query or its answer.
	retransmitAfter = 150 * time.Millisecond
	maxQuestions    = 4096 // distinct questions per browse
	maxPacket       = 9000 // RFC 6762 section 17
	queryBudget     = 1400 // bytes of questions packed into one query
)

// mdnsGroup is where mDNS queries go over IPv4, and mdnsGroup6 over IPv6
// (RFC 6762).
var (
	mdnsGroup  = &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 5353}
	mdnsGroup6 = net.ParseIP("ff02::fb")
)

// MDNSBrowser asks the mDNS responders on one link for host names and
// DNS-SD service types. One Browse at a time.
type MDNSBrowser struct {
	socks []*mdnsSock // IPv4 first, then IPv6 when the link has it
	no6   error       // why DialMDNS opened no IPv6 socket; Browse logs it
	zone  string      // of link-local IPv6 addresses in AAAA records
	// noBrowse makes Browse only reverse-resolve addrs (tests).
	noBrowse bool
}

// mdnsSock is one socket of an MDNSBrowser and the group its queries go to.
type mdnsSock struct {
	sock
	group   *net.UDPAddr
	unicast bool // bound to port 5353: ask for unicast answers (QU) first
}

func newMDNSSock(conn net.PacketConn, group *net.UDPAddr) *mdnsSock {
	s := &mdnsSock{sock: sock{conn: conn}, group: group}
	if u, ok := conn.LocalAddr().(*net.UDPAddr); ok && u.Port == mdnsGroup.Port {
		s.unicast = true
	}
	return s
}

// NewMDNS returns an MDNSBrowser that writes queries to 224.0.0.251:5353
// over conn and reads answers from it. Only responses from UDP port 5353
// count (RFC 6762 section 11); queries and garbage are ignored. When conn
// is bound to port 5353, first queries ask for unicast answers (QU).
// Link-local addresses of AAAA records get no zone. Close closes conn.
func NewMDNS(conn net.PacketConn) *MDNSBrowser {
	return &MDNSBrowser{socks: []*mdnsSock{newMDNSSock(conn, mdnsGroup)}}
}

// withIPv6 adds conn, an IPv6 socket on the browser's link, whose
// queries go to [ff02::fb%zone]:5353.
func (b *MDNSBrowser) withIPv6(conn net.PacketConn, zone string) *MDNSBrowser {
	group := &net.UDPAddr{IP: mdnsGroup6, Port: mdnsGroup.Port, Zone: zone}
	b.socks = append(b.socks, newMDNSSock(conn, group))
	return b
}

// DialMDNS opens UDP sockets for mDNS on ifi and returns an MDNSBrowser
// over them: one for IPv4 (224.0.0.251) and, when ifi has an IPv6
// link-local address, one for IPv6 (ff02::fb); every query goes out on both and
// answers count from either. Each socket is bound to port 5353 (shared
// with other responders on this machine) when possible, else to an
// ephemeral port, whose answers come back as legacy unicast (RFC 6762
// section 6.7). It joins the groups on ifi only, sends out of ifi with TTL
// (hop limit) 255, does not hear its own queries, and drops packets that
// arrive on other interfaces. Without IPv6 on ifi it browses over IPv4
// alone (Browse logs why at debug level). Link-local addresses of AAAA
// records get ifi as their zone. It needs no privileges.
func DialMDNS(ifi *net.Interface) (*MDNSBrowser, error) {
	if ifi == nil {
		return nil, errors.New("scan: mdns: no interface given")
	}
	conn, err := listenMDNS(ifi)
	if err != nil {
		return nil, fmt.Errorf("scan: mdns on %s: %w", ifi.Name, err)
	}
	b := NewMDNS(conn)
	b.zone = ifi.Name
	conn6, err := listenMDNS6(ifi)
	if err != nil {
		b.no6 = fmt.Errorf("scan: mdns over IPv6 on %s: %w", ifi.Name, err)
		return b, nil
	}
	return b.withIPv6(conn6, ifi.Name), nil
}

// Close closes the browser's sockets. It is safe to call more than once.
func (b *MDNSBrowser) Close() error {
	var errs []error
	for _, s := range b.socks {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

// BrowseMDNS opens mDNS sockets on ifi, browses and closes them. See
// [MDNSBrowser.Browse].
func BrowseMDNS(ctx context.Context, ifi *net.Interface, addrs <-chan netip.Addr, cfg *MDNSConfig) ([]MDNSHost, error) {
	return dialDo(func() (*MDNSBrowser, error) { return DialMDNS(ifi) },
		func(b *MDNSBrowser) ([]MDNSHost, error) { return b.Browse(ctx, addrs, cfg) })
}

// Browse asks for host names and DNS-SD service types and attributes them
// to IPv4 addresses, and to IPv6 addresses from AAAA records, asking and
// listening on every socket of the browser (IPv4 and IPv6). It browses
// _services._dns-sd._udp.local, resolves the instances of every type found
// (PTR, then SRV, then A and AAAA of the target, each only when an answer
// did not already carry it), and reverse-resolves (PTR of
// d.c.b.a.in-addr.arpa) every address it learns and every IPv4 or IPv6
// (ip6.arpa) address received on addrs while it runs; every answer heard
// on the link is used, whoever asked. A question is sent a second time
// when no answer arrived.
//
// Browse returns after cfg.Timeout, or earlier once addrs is closed (or
// nil) and the link has gone quiet. It stops receiving from addrs when it
// returns, so senders must not block on addrs forever (select on a done
// channel or buffer it). When ctx ends first it returns what it found and
// ctx.Err(); when reading fails, what it found and the error. Hosts are
// sorted by address. Browse changes the connection's read deadline.
func (b *MDNSBrowser) Browse(ctx context.Context, addrs <-chan netip.Addr, cfg *MDNSConfig) ([]MDNSHost, error) {
	br := newBrowse(b, cfg)
	if b.no6 != nil {
		br.log.Debug("mdns: browsing over IPv4 only", "err", b.no6)
	}
	rd := b.startReading()
	hosts, err := br.run(ctx, addrs, rd)
	b.stopReading(rd, br.log)
	return hosts, err
}

func mdnsLogger(cfg *MDNSConfig) *slog.Logger {
	if cfg == nil {
		return orDiscard(nil)
	}
	return orDiscard(cfg.Logger)
}

// browse is the state of one MDNSBrowser.Browse, owned by the goroutine
// that calls run; the reader only sends it packets.
type browse struct {
	b       *MDNSBrowser
	log     *slog.Logger
	timeout time.Duration
	quiet   time.Duration

	state  *mdnsState
	asked  map[dns.Question]*asked
	fresh  []dns.Question // asked, not sent yet
	active time.Time      // last send or new answer
	lookup bool           // a Lookup: no browse, no follow-ups, done when all answered
}

type asked struct {
	sentAt time.Time
	sends  int
}

type mdnsPacket struct {
	data []byte
	src  netip.AddrPort
}

// mdnsReader is the goroutines that read the browser's sockets during a
// Browse or Lookup, one per socket.
type mdnsReader struct {
	packets chan mdnsPacket
	done    chan struct{} // closed when a reader failed
	err     error         // the first reader's failure; set before done is closed
	once    sync.Once
	stops   []chan struct{} // per socket: closed to stop its reader
	dones   []chan struct{} // per socket: closed when its reader returned
}

// startReading starts a reader on each socket of b.
func (b *MDNSBrowser) startReading() *mdnsReader {
	rd := &mdnsReader{packets: make(chan mdnsPacket, 64), done: make(chan struct{})}
	for _, s := range b.socks {
		stop, done := make(chan struct{}), make(chan struct{})
		rd.stops, rd.dones = append(rd.stops, stop), append(rd.dones, done)
		go func() {
			defer close(done)
			if err := s.read(stop, rd.packets); err != nil {
				rd.once.Do(func() {
					rd.err = err
					close(rd.done)
				})
			}
		}()
	}
	return rd
}

// stopReading stops rd's readers and waits for them.
func (b *MDNSBrowser) stopReading(rd *mdnsReader, log *slog.Logger) {
	for i, s := range b.socks {
		s.stopReader(rd.stops[i], rd.dones[i], log, "mdns")
	}
}

func newBrowse(b *MDNSBrowser, cfg *MDNSConfig) *browse {
	br := &browse{
		b:       b,
		log:     mdnsLogger(cfg),
		timeout: defaultMDNSTimeout,
		quiet:   defaultMDNSQuiet,
		state:   newMDNSState(uint16(mdnsGroup.Port)),
		asked:   make(map[dns.Question]*asked),
	}
	br.state.zone = b.zone
	if cfg != nil && cfg.Timeout > 0 {
		br.timeout = cfg.Timeout
	}
	if cfg != nil && cfg.Quiet > 0 {
		br.quiet = cfg.Quiet
	}
	return br
}

// run browses until the timeout, the quiet period, the end of parent or a
// read error.
func (br *browse) run(parent context.Context, addrs <-chan netip.Addr, rd *mdnsReader) ([]MDNSHost, error) {
	start := time.Now()
	ctx, cancel := context.WithDeadline(parent, start.Add(br.timeout))
	defer cancel()
	if !br.b.noBrowse && !br.lookup {
		br.ask(question(servicesName, dns.TypePTR))
	}
	if err := br.flush(start); err != nil {
		return nil, fmt.Errorf("scan: mdns: send query: %w", err)
	}
	timer := time.NewTimer(br.timeout)
	defer timer.Stop()
	for {
		now := time.Now()
		next, done := br.next(now, addrs == nil)
		if done {
			br.log.Debug("mdns: quiet, done", "t", time.Since(start))
			return br.state.result(), nil
		}
		timer.Reset(next.Sub(now))
		select {
		case <-ctx.Done():
			br.log.Debug("mdns: window ended", "t", time.Since(start))
			return br.state.result(), parent.Err()
		case <-rd.done:
			return br.state.result(), rd.err
		case p := <-rd.packets:
			changed, follow := br.state.handlePacket(p.data, p.src)
			br.log.Debug("mdns: packet", "src", p.src, "changed", changed, "follow", len(follow), "t", time.Since(start))
			br.learned(changed, follow)
			if br.lookupDone() {
				return br.state.result(), nil
			}
		case a, ok := <-addrs:
			if !ok {
				addrs = nil
				continue
			}
			switch {
			case usableAddr(a):
				br.ask(reverseQuestion(a))
			case usableAddr6(a):
				br.ask(reverseQuestion6(a))
			}
		case <-timer.C:
			br.retransmit(time.Now())
		}
		br.flush(time.Now())
	}
}

// learned asks follow-up questions and notes activity.
func (br *browse) learned(changed bool, follow []dns.Question) {
	if changed {
		br.active = time.Now()
	}
	if !br.lookup {
		br.ask(follow...)
	}
}

// next returns when the loop must wake up (a retransmission is due or the
// quiet period ends), and done once it may finish: idle is set when no
// addresses can still arrive.
func (br *browse) next(now time.Time, idle bool) (wake time.Time, done bool) {
	waiting := false
	wake = now.Add(br.timeout)
	for q, a := range br.asked {
		if a.sends == 1 && !br.state.answered(q) {
			waiting = true
			if t := a.sentAt.Add(retransmitAfter); t.Before(wake) {
				wake = t
			}
		}
	}
	if !idle || waiting {
		return wake, false
	}
	end := br.active.Add(br.quiet)
	if !now.Before(end) {
		return now, true
	}
	return end, false
}

// ask queues questions not asked before.
func (br *browse) ask(qs ...dns.Question) {
	for _, q := range qs {
		if _, ok := br.asked[q]; ok {
			continue
		}
		if len(br.asked) >= maxQuestions {
			br.log.Debug("mdns: too many questions, ignoring", "name", q.Name)
			continue
		}
		br.asked[q] = &asked{}
		br.fresh = append(br.fresh, q)
	}
}

// retransmit sends again every question sent once, long enough ago, and
// still unanswered. The second send never asks for a unicast answer, so
// the answer is multicast and reaches us even when another mDNS socket on
// this machine takes port 5353's unicast traffic.
func (br *browse) retransmit(now time.Time) {
	var qs []dns.Question
	for q, a := range br.asked {
		if a.sends == 1 && now.Sub(a.sentAt) >= retransmitAfter && !br.state.answered(q) {
			qs = append(qs, q)
			a.sends++
			a.sentAt = now
		}
	}
	if len(qs) == 0 {
		return
	}
	if err := br.send(qs, false); err != nil {
		br.log.Debug("mdns: retransmit", "err", err)
	}
	br.active = now
}

// flush sends the questions asked since the last flush.
func (br *browse) flush(now time.Time) error {
	if len(br.fresh) == 0 {
		return nil
	}
	qs := br.fresh
	br.fresh = nil
	for _, q := range qs {
		br.asked[q].sends = 1
		br.asked[q].sentAt = now
	}
	br.active = now
	err := br.send(qs, true)
	if err != nil {
		br.log.Debug("mdns: send", "err", err)
	}
	return err
}

// send sends questions on every socket, asking for unicast answers (qu)
// where the socket is on port 5353. It fails only when no socket could
// send them all; a failure on one socket is logged.
func (br *browse) send(qs []dns.Question, qu bool) error {
	var errs []error
	for _, s := range br.b.socks {
		if err := s.send(qs, qu && s.unicast); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) < len(br.b.socks) {
		if err := errors.Join(errs...); err != nil {
			br.log.Debug("mdns: send on one socket", "err", err)
		}
		return nil
	}
	return errors.Join(errs...)
}

// send packs questions into as few queries as fit queryBudget and writes
// them to the socket's group.
func (s *mdnsSock) send(qs []dns.Question, qu bool) error {
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
			_, err = s.conn.WriteTo(buf, s.group)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// read hands every packet to out until stop is closed or reading fails.
func (s *mdnsSock) read(stop <-chan struct{}, out chan<- mdnsPacket) error {
	err := readTo(&s.sock, maxPacket, stop, out, func(data []byte, from net.Addr) (mdnsPacket, bool) {
		var src netip.AddrPort
		if u, ok := from.(*net.UDPAddr); ok {
			src = u.AddrPort()
		}
		return mdnsPacket{data: append([]byte(nil), data...), src: src}, true
	})
	if err != nil {
		return fmt.Errorf("scan: mdns: read: %w", err)
	}
	return nil
}
