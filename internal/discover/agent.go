package discover

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// group is the mDNS IPv4 multicast group and port.
var group = &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 5353}

// schedule is when, after Start, the agent queries and announces again
// (RFC 6762 section 8.3 asks for at least two announcements); then it
// does every refresh.
var schedule = []time.Duration{0, 250 * time.Millisecond, time.Second, 3 * time.Second}

const (
	refresh = 60 * time.Second
	// maxPeersPerPacket bounds the peers taken from one packet.
	maxPeersPerPacket = 32
	// goodbyeTimeout bounds sending the goodbye on Close.
	goodbyeTimeout = 100 * time.Millisecond
	// repeatAfter is when a change to the published instances is
	// announced again (RFC 6762 section 8.4).
	repeatAfter = time.Second
)

// Config configures an Agent.
type Config struct {
	Instance string         // this node's name; required
	Addr     netip.AddrPort // its gossip address (IPv4); required
	Cluster  string         // cluster label; agents of others are ignored
	// Found is called, from the agent's goroutine, with every peer of the
	// same cluster heard (possibly again) and every goodbye; it must not
	// block. Nil discards them.
	Found  func(Peer)
	Logger *slog.Logger // nil discards
}

// Agent announces this node and reports the others (see package doc).
type Agent struct {
	conn    net.PacketConn
	cfg     Config
	log     *slog.Logger
	resp    []byte // the announcement
	bye     []byte // the goodbye
	query   []byte
	host    string // the SRV target of published instances
	addrRR  dns.RR // its A record
	kick    chan struct{}
	sendMu  sync.Mutex // held from reading the published set to sending what it gave, to keep goodbyes last
	pubMu   sync.Mutex
	pub     map[string]Instance // published, by key
	gone    [][]dns.RR          // goodbyes not sent yet
	fresh   map[string]bool     // keys to announce
	done    chan struct{}
	wg      sync.WaitGroup
	closeMu sync.Mutex
	closed  bool
}

// New returns an Agent announcing and browsing on conn, an mDNS socket
// (see Listen): writes to the group address go out on the link.
func New(conn net.PacketConn, cfg *Config) (*Agent, error) {
	if cfg == nil || cfg.Instance == "" || len(cfg.Instance) > MaxInstance || !cfg.Addr.Addr().Is4() {
		return nil, errors.New("discover: need an instance name (at most 255 bytes) and an IPv4 address")
	}
	a := &Agent{conn: conn, cfg: *cfg, log: cfg.Logger, done: make(chan struct{}),
		kick: make(chan struct{}, 1), pub: map[string]Instance{}, fresh: map[string]bool{}}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	ann := announcement{instance: cfg.Instance, addr: cfg.Addr, cluster: cfg.Cluster}
	ip := cfg.Addr.Addr().As4()
	a.host = hostName(ann)
	a.addrRR = &dns.A{Hdr: header(a.host, dns.TypeA, true, ttl), A: ip[:]}
	var err error
	if a.resp, err = ann.response(ttl); err != nil {
		return nil, fmt.Errorf("discover: announcement of %s: %w", cfg.Instance, err)
	}
	if a.bye, err = ann.response(0); err != nil {
		return nil, fmt.Errorf("discover: goodbye of %s: %w", cfg.Instance, err)
	}
	if a.query, err = query(); err != nil {
		return nil, err
	}
	a.wg.Add(2)
	go a.read()
	go a.announce()
	return a, nil
}

// Start opens the mDNS socket of ifi (see Listen) and returns an Agent on
// it.
func Start(ifi *net.Interface, cfg *Config) (*Agent, error) {
	conn, err := Listen(ifi)
	if err != nil {
		return nil, err
	}
	a, err := New(conn, cfg)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return a, nil
}

// Close sends the goodbye (bounded by a short write deadline), closes the
// socket and waits for the agent's goroutines. It is idempotent.
func (a *Agent) Close() error {
	a.closeMu.Lock()
	defer a.closeMu.Unlock()
	if a.closed {
		return nil
	}
	a.closed = true
	close(a.done)
	// Stop the goroutines first (the reader returns on the deadline, as
	// done is closed), so no announcement or answer follows the goodbyes.
	a.conn.SetReadDeadline(time.Now())
	a.wg.Wait()
	a.conn.SetWriteDeadline(time.Now().Add(goodbyeTimeout))
	a.sendGroups(a.withdrawAll())
	_, err := a.conn.WriteTo(a.bye, group)
	a.conn.Close()
	if err != nil {
		return fmt.Errorf("discover: goodbye: %w", err)
	}
	return nil
}

// announce queries and announces on schedule, then every refresh; it
// announces the published instances with them, and a change to them at
// once and again after repeatAfter.
func (a *Agent) announce() {
	defer a.wg.Done()
	start := time.Now()
	tick := time.NewTimer(0)
	defer tick.Stop()
	var repeat <-chan time.Time
	again := map[string]bool{}
	for i := 1; ; {
		select {
		case <-a.done:
			return
		case <-tick.C:
			a.send(a.query)
			a.send(a.resp)
			a.announceInstances(nil)
			next := refresh
			if i < len(schedule) {
				next = time.Until(start.Add(schedule[i]))
			}
			i++
			tick.Reset(next)
		case <-a.kick:
			fresh := a.takeChanges()
			a.announceInstances(fresh)
			for k := range fresh {
				again[k] = true
			}
			repeat = time.After(repeatAfter)
		case <-repeat:
			a.announceInstances(again)
			again, repeat = map[string]bool{}, nil
		}
	}
}

func (a *Agent) send(b []byte) {
	if _, err := a.conn.WriteTo(b, group); err != nil {
		a.log.Debug("mdns send", "err", err)
	}
}

// read handles the packets of the link until the socket closes: it
// answers queries for Service and reports the peers of responses.
func (a *Agent) read() {
	defer a.wg.Done()
	buf := make([]byte, 9000)
	for {
		n, _, err := a.conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			a.log.Debug("mdns read", "err", err)
			select {
			case <-a.done:
				return
			case <-time.After(100 * time.Millisecond): // a persistent error must not spin
			}
			continue
		}
		a.handle(buf[:n])
	}
}

// handle answers a query for Service or reports the peers of a response.
func (a *Agent) handle(pkt []byte) {
	var m dns.Msg
	if err := m.Unpack(pkt); err != nil {
		return
	}
	if !m.Response {
		a.answer(&m)
		return
	}
	for _, p := range peers(&m, a.cfg.Cluster, maxPeersPerPacket) {
		if p.Instance == a.cfg.Instance || a.cfg.Found == nil {
			continue
		}
		a.cfg.Found(p)
	}
}
