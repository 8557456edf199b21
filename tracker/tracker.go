package tracker

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"golang.org/x/sync/errgroup"
)

// Errors callers may branch on.
var (
	// ErrClosed is returned by methods called after Close or Leave.
	ErrClosed = errors.New("tracker: closed")
	// ErrAlreadyTracked is returned by Track for a key already tracked here.
	ErrAlreadyTracked = errors.New("tracker: already tracked")
)

// errNotTracked is returned by Update for a key not tracked here.
var errNotTracked = errors.New("tracker: not tracked")

// A node re-announces its version every noticeInterval for noticeWindow
// after its last change, so a peer that missed the last delta (lost, or
// a short partition) syncs in about a second instead of at the next
// push/pull.
const (
	noticeInterval = time.Second
	noticeWindow   = 10 * time.Second
)

// inboxSize bounds the messages waiting for the tracker's handler, and
// maxInboxBytes their size (sync responses may be megabytes).
const (
	inboxSize     = 4096
	maxInboxBytes = 64 << 20
)

// maxQueued bounds the broadcast queue (about 60 bytes a delta).
const maxQueued = 4096

// maxDeltaBytes is the largest change gossiped as is; a bigger one is
// announced by a payload-less notice and fetched from the writer. It
// leaves room in a 1400-byte UDP packet for memberlist's compound
// header, a 255-byte label and encryption.
const maxDeltaBytes = 1100

// Ref identifies one version of one tracked entry: the writer, its boot
// and the writer's version when the entry was last written. Every Track
// and Update yields a new Ref.
type Ref struct {
	Node    string
	Boot    uint64
	Version uint64
}

// String formats r as node/boot/version.
func (r Ref) String() string {
	return r.Node + "/" + strconv.FormatUint(r.Boot, 36) + "/" + strconv.FormatUint(r.Version, 10)
}

// Presence is one tracked entry as seen by this node.
type Presence struct {
	Service string
	Key     string
	Node    string         // the node that tracks it
	Addr    netip.AddrPort // that node's gossip address
	// Meta is the entry's metadata. It is shared: do not modify it.
	Meta  map[string]string
	Ref   Ref
	Local bool // tracked by this node
	// PrevNode is the node's previous name when it declared one
	// (Config.PreviousName): the entry moved from PrevNode to Node.
	PrevNode string
}

// Member is a live node of the cluster.
type Member struct {
	Name     string
	Addr     netip.AddrPort
	PrevName string
	Boot     uint64
	Local    bool
	State    MemberState
}

// MemberState is the health of a member.
type MemberState uint8

// Member states. Members lists only live nodes, so every one is
// MemberAlive: memberlist (v0.7) tells its delegates nothing of
// suspicion (Node.State is filled only for merges; the node's real state
// is private), so a suspected node shows as alive until it is declared
// dead and leaves. MemberSuspect is reserved for when it does.
const (
	MemberAlive MemberState = iota
	MemberSuspect
)

// String returns "alive" or "suspect".
func (s MemberState) String() string {
	if s == MemberSuspect {
		return "suspect"
	}
	return "alive"
}

// Tracker tracks entries of this node and shows those of the others.
// Its methods are safe for concurrent use.
type Tracker struct {
	log       *slog.Logger
	name      string
	prevName  string
	boot      uint64
	meta      []byte
	permdown  time.Duration
	reconnect time.Duration
	ml        *memberlist.Memberlist
	queue     *memberlist.TransmitLimitedQueue
	alive     atomic.Int32 // live nodes, us included, for the queue

	mu     sync.Mutex
	v      *view
	subs   map[*Subscription]struct{}
	rr     map[string]uint64
	closed bool
	// changed is when this node last changed its entries; for a while
	// after, it re-announces its version so peers that missed the last
	// delta notice the gap.
	changed time.Time
	changes chan struct{} // wakes purgeLoop's notices after a change
	downs   chan struct{} // wakes purgeLoop's reconnects after a crash

	syncs      *syncer
	gate       *gate
	pushes     chan []byte  // changes to push at once (see push)
	inbox      chan []byte  // messages from NotifyMsg, for inboxLoop
	inboxBytes atomic.Int64 // bytes in inbox
	stats      stats

	done      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
	lifeMu    sync.Mutex // held by Leave and Close
}

var lastBoot atomic.Uint64

// newBoot returns a boot id: the start time in nanoseconds, strictly
// increasing within the process, so a restart always has a larger one.
func newBoot() uint64 {
	for {
		now, last := uint64(time.Now().UnixNano()), lastBoot.Load()
		if now <= last {
			now = last + 1
		}
		if lastBoot.CompareAndSwap(last, now) {
			return now
		}
	}
}

// New starts a tracker node: it binds the gossip sockets and runs alone
// until Join. A nil cfg applies the defaults: gossip on 0.0.0.0:7946
// with LANMemberlistConfig timing.
func New(cfg *Config) (*Tracker, error) {
	if cfg == nil {
		cfg = defaultConfig()
	}
	t := &Tracker{
		log:      cfg.Logger,
		boot:     newBoot(),
		permdown: cfg.PermdownPeriod,
		subs:     make(map[*Subscription]struct{}),
		rr:       make(map[string]uint64),
		done:     make(chan struct{}),
		inbox:    make(chan []byte, inboxSize),
		pushes:   make(chan []byte, pushQueue),
		changes:  make(chan struct{}, 1),
		downs:    make(chan struct{}, 1),
	}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	if t.permdown <= 0 {
		t.permdown = DefaultPermdownPeriod
	}
	t.reconnect = cfg.ReconnectInterval
	if t.reconnect <= 0 {
		t.reconnect = DefaultReconnectInterval
	}
	t.name = cfg.Name
	t.prevName = cfg.PreviousName
	if t.name == "" {
		a := cfg.AdvertiseAddr
		if !a.IsValid() {
			a = cfg.BindAddr
		}
		if !a.IsValid() || a.Addr().IsUnspecified() {
			return nil, errors.New("tracker: Config.Name is empty and no AdvertiseAddr or specific BindAddr to derive it from")
		}
		t.name = "tracker@" + a.Addr().String()
	}
	if err := validName("node name", t.name); err != nil {
		return nil, err
	}
	if cfg.PreviousName != "" {
		if err := validName("previous name", cfg.PreviousName); err != nil {
			return nil, err
		}
	}
	t.meta = encodeNodeMeta(nodeMeta{Boot: t.boot, PrevName: cfg.PreviousName})
	mc, err := cfg.memberlistConfig(t.name, t.meta)
	if err != nil {
		return nil, err
	}
	d := &delegate{t: t}
	mc.Delegate, mc.Events, mc.Alive, mc.Merge = d, d, d, d
	t.queue = &memberlist.TransmitLimitedQueue{
		NumNodes:       func() int { return int(t.alive.Load()) },
		RetransmitMult: mc.RetransmitMult,
	}
	t.alive.Store(1)
	t.v = newView(t.name, netip.AddrPort{}, t.boot)
	t.syncs = newSyncer(t)
	t.gate = newGate(t)
	ml, err := createMemberlist(mc, t.gate.streamFrom, &t.stats)
	if err != nil {
		return nil, fmt.Errorf("tracker: start gossip on %v: %w", cfg.BindAddr, err)
	}
	t.ml = ml
	t.gate.ml.Store(ml)
	ln := ml.LocalNode()
	addr, _ := netip.AddrFromSlice(ln.Addr)
	t.mu.Lock()
	t.v.selfAddr = netip.AddrPortFrom(addr.Unmap(), ln.Port)
	t.mu.Unlock()
	t.wg.Add(6)
	go t.pusher()
	go t.inboxLoop()
	go t.syncs.run()
	go t.purgeLoop()
	go t.gate.run()
	go t.gate.pinger()
	return t, nil
}

// Join contacts the given peers and merges state with them. A peer is
// HOST:PORT, NAME@HOST:PORT, or NAME@HOST (port 7946). It returns how
// many peers were reached; an error only if none was.
func (t *Tracker) Join(peers []string) (int, error) {
	if t.isClosed() {
		return 0, ErrClosed
	}
	addrs := make([]string, 0, len(peers))
	for _, p := range peers {
		addrs = append(addrs, peerAddr(p))
	}
	t.gate.joining(time.Now())
	n, err := t.joinEach(addrs)
	if err != nil {
		return n, fmt.Errorf("tracker: join %v: %w", peers, err)
	}
	t.mu.Lock()
	if !t.closed {
		t.wg.Add(1)
		go t.rejoinLater()
	}
	t.mu.Unlock()
	return n, nil
}

// joinEach joins every address at once (memberlist.Join tries them one
// after the other, each up to TCPTimeout: a hostfile listing a LAN's
// firewalled hosts would stall for minutes). It returns how many answered,
// and an error only when none did.
func (t *Tracker) joinEach(addrs []string) (int, error) {
	var (
		mu   sync.Mutex
		n    int
		errs []error
		g    errgroup.Group
	)
	g.SetLimit(32)
	for _, a := range addrs {
		g.Go(func() error {
			k, err := t.joinAddr(a)
			mu.Lock()
			defer mu.Unlock()
			n += k
			if err != nil {
				errs = append(errs, err)
			}
			return nil
		})
	}
	g.Wait()
	if n == 0 && len(errs) > 0 {
		return 0, errors.Join(errs...)
	}
	return n, nil
}

// pullRandom repeats the join's full state exchange with a random live
// member.
func (t *Tracker) pullRandom() {
	var peers []string
	for _, m := range t.Members() {
		if !m.Local {
			peers = append(peers, m.Addr.String())
		}
	}
	if len(peers) == 0 {
		return
	}
	if _, err := t.joinAddr(peers[rand.IntN(len(peers))]); err != nil {
		t.log.Debug("tracker: push/pull failed", "err", err)
	}
}

// rejoinLater repeats the join's full state exchange with a random
// member 1 s and 3 s after joining. Nodes that joined elsewhere at about
// the same time are announced by gossip that may have ended before we
// arrived and may be unknown to the peer we joined through; without
// this, only the next periodic push/pull would tell us.
func (t *Tracker) rejoinLater() {
	defer t.wg.Done()
	for _, wait := range []time.Duration{time.Second, 2 * time.Second} {
		select {
		case <-t.done:
			return
		case <-time.After(wait):
		}
		t.pullRandom()
	}
}

// joinAddr joins the node at HOST:PORT a; while it does, the gate admits
// the node answering there.
func (t *Tracker) joinAddr(a string) (int, error) {
	if ap, err := netip.ParseAddrPort(a); err == nil {
		defer t.gate.dial(netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))()
	}
	return t.ml.Join([]string{a})
}

// peerAddr turns a peer as accepted by Join into HOST:PORT.
func peerAddr(p string) string {
	if i := strings.LastIndexByte(p, '@'); i >= 0 {
		p = p[i+1:]
	}
	if _, _, err := net.SplitHostPort(p); err != nil {
		return net.JoinHostPort(strings.Trim(p, "[]"), strconv.Itoa(DefaultPort))
	}
	return p
}

// checkEntry validates the arguments of Track and Update.
func checkEntry(service, key string, meta map[string]string) error {
	if err := validName("service", service); err != nil {
		return err
	}
	if err := validName("key", key); err != nil {
		return err
	}
	if n := metaLen(meta); n > MaxMetaLen {
		return fmt.Errorf("%w: %s/%s meta is %d bytes, limit %d", ErrMetaTooLarge, service, key, n, MaxMetaLen)
	}
	return nil
}

// Track starts tracking key in service on this node with meta (copied).
// It fails with ErrAlreadyTracked if the key is tracked already.
func (t *Tracker) Track(service, key string, meta map[string]string) (Ref, error) {
	return t.put(service, key, meta, false)
}

// Update replaces the meta of a key tracked on this node; watchers see a
// leave of the old version and a join of the new one. It fails if the
// key is not tracked.
func (t *Tracker) Update(service, key string, meta map[string]string) (Ref, error) {
	return t.put(service, key, meta, true)
}

func (t *Tracker) put(service, key string, meta map[string]string, update bool) (Ref, error) {
	if err := checkEntry(service, key, meta); err != nil {
		return Ref{}, err
	}
	meta = maps.Clone(meta)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return Ref{}, ErrClosed
	}
	r := t.v.nodes[t.name]
	exists := r.svcs[service][key] != nil
	switch {
	case update && !exists:
		return Ref{}, fmt.Errorf("%w: %s/%s", errNotTracked, service, key)
	case !update && exists:
		return Ref{}, fmt.Errorf("%w: %s/%s", ErrAlreadyTracked, service, key)
	case !exists && r.n >= MaxEntries:
		return Ref{}, fmt.Errorf("tracker: %d entries tracked here, limit %d", r.n, MaxEntries)
	}
	t.markChanged()
	d, ch := t.v.local(opPut, service, key, meta)
	t.publishLocked(ch)
	t.gossip(&d)
	return Ref{Node: t.name, Boot: d.Boot, Version: d.Version}, nil
}

// Untrack stops tracking key in service on this node. Untracking a key
// that is not tracked does nothing.
func (t *Tracker) Untrack(service, key string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	if t.v.nodes[t.name].svcs[service][key] == nil {
		return nil
	}
	t.markChanged()
	d, ch := t.v.local(opDel, service, key, nil)
	t.publishLocked(ch)
	t.gossip(&d)
	return nil
}

// markChanged notes a change of this node's entries. t.mu must be held.
func (t *Tracker) markChanged() {
	t.changed = time.Now()
	select {
	case t.changes <- struct{}{}:
	default:
	}
}

// gossip queues a local change for broadcast, as a notice if too big.
// Alone, there is nobody to tell: whoever joins gets our whole record
// by push/pull.
func (t *Tracker) gossip(d *delta) {
	if t.alive.Load() <= 1 {
		return
	}
	b := encodeDelta(d)
	if len(b) > maxDeltaBytes {
		b = encodeDelta(&delta{Node: d.Node, Boot: d.Boot, Version: d.Version, Op: opNotice})
	}
	t.enqueue(b)
	t.push(b)
}

// enqueue queues a broadcast, dropping the oldest past maxQueued: a
// receiver that misses a dropped delta sees a gap and syncs.
func (t *Tracker) enqueue(b []byte) {
	t.queue.QueueBroadcast(broadcast(b))
	if t.queue.NumQueued() > maxQueued {
		t.queue.Prune(maxQueued)
	}
}

// List returns the entries of service visible here, sorted by node and key.
func (t *Tracker) List(service string) []Presence {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.v.list(service)
}

// Count returns how many entries of service are visible here; cheaper
// than len(List(service)).
func (t *Tracker) Count(service string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for name, r := range t.v.nodes {
		if t.v.visible(name) {
			n += len(r.svcs[service])
		}
	}
	return n
}

// Services returns the services with at least one visible entry, sorted.
func (t *Tracker) Services() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.v.services()
}

// Members returns the live nodes, this one included, sorted by name.
func (t *Tracker) Members() []Member {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.membersLocked()
}

func (t *Tracker) membersLocked() []Member {
	out := []Member{{Name: t.name, Addr: t.v.selfAddr, PrevName: t.prevName, Boot: t.boot, Local: true}}
	for name, m := range t.v.members {
		if m.Alive {
			out = append(out, Member{Name: name, Addr: m.Addr, PrevName: m.PrevName, Boot: m.Boot})
		}
	}
	sortMembers(out)
	return out
}

// LocalNode returns this node's name.
func (t *Tracker) LocalNode() string { return t.name }

// Addr returns the gossip address other nodes reach this one at (useful
// with a BindAddr of port 0).
func (t *Tracker) Addr() netip.AddrPort {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.v.selfAddr
}

// Leave tells the cluster this node is leaving, waits up to timeout for
// the news to go out, and closes the tracker. Peers drop this node's
// entries at once instead of waiting for crash detection.
func (t *Tracker) Leave(timeout time.Duration) error {
	err := t.leave(timeout)
	if cerr := t.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("tracker: leave: %w", err)
	}
	return nil
}

// leave announces the leave; lifeMu keeps Close from shutting memberlist
// down meanwhile (memberlist panics on a Leave after Shutdown).
func (t *Tracker) leave(timeout time.Duration) error {
	t.lifeMu.Lock()
	defer t.lifeMu.Unlock()
	if t.isClosed() {
		return ErrClosed
	}
	b := encodeLeave(leaveMsg{Node: t.name, Boot: t.boot})
	t.sendTo(t.pushTargets(-1), b) // every member at once
	t.enqueue(b)                   // and gossip, while memberlist's own leave goes out
	// memberlist waits until its leave notice was gossiped enough times:
	// several gossip ticks in a small cluster, longer than a short
	// timeout. Every member has our leave already (if a packet was lost,
	// that member sees a crash), so running out of time is no failure.
	if err := t.ml.Leave(timeout); err != nil {
		t.log.Debug("tracker: leave", "err", err)
	}
	return nil
}

// Close stops gossip without telling the cluster (peers see a crash),
// ends every subscription and waits for the tracker's goroutines. It is
// idempotent.
func (t *Tracker) Close() error {
	var err error
	t.closeOnce.Do(func() {
		t.lifeMu.Lock()
		defer t.lifeMu.Unlock()
		t.mu.Lock()
		t.closed = true
		subs := t.subs
		t.subs = nil
		t.mu.Unlock()
		close(t.done)
		err = t.ml.Shutdown()
		t.wg.Wait()
		for s := range subs {
			s.stop()
		}
	})
	return err
}

func (t *Tracker) isClosed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

// purgeLoop forgets what has been down longer than the permdown period,
// every reconnect interval tries to rejoin one crashed node, so two
// sides of a healed partition find each other again (memberlist alone
// never probes a node it declared dead), and re-announces this node's
// version while it changed recently (see noticeInterval). The
// reconnect and notice timers run only while there is something to do,
// so an idle agent does not wake up for them.
func (t *Tracker) purgeLoop() {
	defer t.wg.Done()
	every := min(max(t.permdown/8, 50*time.Millisecond), 10*time.Second)
	purge := time.NewTicker(every)
	defer purge.Stop()
	reconnect := time.NewTimer(t.reconnect)
	reconnect.Stop()
	defer reconnect.Stop()
	reconnecting := false
	notice := time.NewTimer(noticeInterval)
	notice.Stop()
	defer notice.Stop()
	noticing := false
	for {
		select {
		case <-t.done:
			return
		case now := <-purge.C:
			t.mu.Lock()
			t.v.purge(now, t.permdown)
			t.mu.Unlock()
		case <-t.changes:
			if !noticing {
				noticing = true
				notice.Reset(noticeInterval)
			}
		case now := <-notice.C:
			if noticing = t.notice(now); noticing {
				notice.Reset(noticeInterval)
			}
		case <-t.downs:
			if !reconnecting {
				reconnecting = true
				reconnect.Reset(t.reconnect)
			}
		case <-reconnect.C:
			if reconnecting = t.reconnectOne(); reconnecting {
				reconnect.Reset(t.reconnect)
			}
		}
	}
}

// notice re-announces this node's version if it changed within
// noticeWindow, and reports whether it did.
func (t *Tracker) notice(now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.v.nodes[t.name]
	if now.Sub(t.changed) >= noticeWindow || r.Version == 0 {
		return false
	}
	t.enqueue(encodeDelta(&delta{Node: t.name, Boot: r.Boot, Version: r.Version, Op: opNotice}))
	return true
}

// reconnectOne tries to rejoin one crashed node, if any, and reports
// whether there was one.
func (t *Tracker) reconnectOne() bool {
	t.mu.Lock()
	addrs := t.v.crashed()
	t.mu.Unlock()
	if len(addrs) == 0 {
		return false
	}
	a := addrs[rand.IntN(len(addrs))]
	if _, err := t.joinAddr(a.String()); err != nil {
		t.log.Debug("tracker: reconnect failed", "addr", a, "err", err)
	}
	return true
}

// publishLocked hands changes to every subscriber. t.mu must be held,
// which keeps batches in order.
func (t *Tracker) publishLocked(ch []change) {
	if len(ch) == 0 {
		return
	}
	for s := range t.subs {
		s.push(ch)
	}
}

// broadcast is a gossiped message; it never invalidates another, since
// receivers need every version.
type broadcast []byte

func (b broadcast) Invalidates(memberlist.Broadcast) bool { return false }
func (b broadcast) Message() []byte                       { return b }
func (b broadcast) Finished()                             {}
