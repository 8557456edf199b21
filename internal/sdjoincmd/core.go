package sdjoincmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/check"
	"github.com/ipfinder-go/ipfinder/internal/cliutil"
	"github.com/ipfinder-go/ipfinder/internal/discover"
	"github.com/ipfinder-go/ipfinder/rename"
	"github.com/ipfinder-go/ipfinder/tracker"
)

// errStopped is returned by requests to a core that has stopped.
var errStopped = errors.New("agent stopped")

// core is the agent proper: it owns the tracker and the node's identity
// (start, retire, re-identify on rename, lose and regain the address),
// the entries this node tracks, and the hostfile's peers. Every identity
// change runs on one goroutine, the loop (see onLoop); other goroutines
// read the current tracker under mu. The core never prints events: it
// reports changes to the hub.
type core struct {
	opt  *agentOptions // opt.key is owned by the loop (reload changes it)
	hub  *hub
	warn func(format string, args ...any) // one operator message on stderr
	log  *slog.Logger

	// mu guards these; it is never held across a tracker's join or
	// leave. The identity fields (t, bind, adv, local) are written only
	// by the loop goroutine.
	mu      sync.Mutex
	t       *tracker.Tracker // nil: offline (no address, or being replaced)
	bind    netip.AddrPort
	adv     netip.AddrPort
	local   []netip.Addr // this machine's addresses, for recognizing self
	entries map[entryID]*localEntry
	peers   []string
	// discovered are the peers heard over mDNS, by instance (node name).
	discovered map[string]string
	// sessions counts the open sessions; lastSession numbers them.
	sessions, lastSession int
	// retired sums the Stats of the trackers replaced (see gossipStats).
	retired tracker.Stats

	checks *check.Runner // of the entries with checks; consumed on the loop

	// owned by the loop goroutine
	disc        *discover.Agent // nil: discovery off or not running
	pub         *publisher      // nil: --no-discover or --no-publish
	prevName    string          // name of the last tracker, while t is nil
	prevPeers   []string        // its live peers when it left, to rejoin
	drained     chan struct{}   // closed when the diffs of t are consumed
	watcher     *rename.Watcher
	hostfile    fileState
	warnedLines map[string]bool

	joinWarned bool            // owned by joinLoop
	unresolved map[string]bool // names warned about; owned by joinLoop

	calls    chan func()   // work for the loop from other goroutines
	joinKick chan struct{} // wakes joinLoop
	joined   chan struct{} // closed by joinLoop after its first round
	stop     context.CancelFunc
	stopped  chan struct{} // closed when the loop has returned
	wg       sync.WaitGroup
}

func newCore(opt *agentOptions, h *hub, warn func(string, ...any), log *slog.Logger) *core {
	c := &core{
		opt: opt, hub: h, warn: warn, log: log,
		entries:     make(map[entryID]*localEntry),
		checks:      check.NewRunner(),
		warnedLines: make(map[string]bool),
		unresolved:  make(map[string]bool),
		calls:       make(chan func()),
		joinKick:    make(chan struct{}, 1),
		joined:      make(chan struct{}),
		stopped:     make(chan struct{}),
	}
	for _, ts := range opt.tracks {
		c.addLocked(entryID{ts.service, trackKey}, ts) // no tracker yet: cannot fail
	}
	if opt.discover && opt.publish {
		c.pub = newPublisher(warn)
		h.register("", func(int) handler { return c.pub })
	}
	return c
}

// start starts the address watcher (when following the address) and the
// tracker at the addresses the options give, or none when following with
// no address yet (offline). The loops start with run.
func (c *core) start(ctx context.Context) error {
	local, _ := interfaceAddrs(true)
	c.mu.Lock()
	c.local = local
	c.mu.Unlock()
	c.watcher = c.watchAddress(ctx)
	bind, adv, err := c.addresses(c.watcher)
	if err == nil && adv.IsValid() {
		err = c.startTracker(bind, adv, "")
	} else if err == nil { // following the address, with none yet
		c.mu.Lock()
		c.bind = bind
		c.mu.Unlock()
	}
	if err != nil && c.watcher != nil {
		c.watcher.Close()
	}
	return err
}

// run starts the loop and the join loop; close stops them.
func (c *core) run(ctx context.Context) {
	ctx, c.stop = context.WithCancel(ctx)
	c.wg.Add(2)
	go c.loop(ctx)
	go c.joinLoop(ctx)
}

// close stops the loops, leaves the cluster and waits for the core's
// goroutines. The caller bounds how long it waits (see agent.shutdown).
func (c *core) close() error {
	c.stop()
	<-c.stopped // no identity change from here on
	c.checks.Close()
	if c.watcher != nil {
		c.watcher.Close()
	}
	c.stopDiscovery()
	err := c.leave()
	c.wg.Wait()
	return err
}

// onLoop runs f on the loop goroutine and returns its error.
func (c *core) onLoop(f func() error) error {
	errc := make(chan error, 1)
	select {
	case c.calls <- func() { errc <- f() }:
		return <-errc
	case <-c.stopped:
		return errStopped
	}
}

// loop polls the hostfile, retries missing peers, follows the address
// changes and runs the work of onLoop until ctx is done.
func (c *core) loop(ctx context.Context) {
	defer c.wg.Done()
	defer close(c.stopped)
	poll := time.NewTicker(c.opt.poll)
	defer poll.Stop()
	retry := time.NewTicker(c.opt.retry)
	defer retry.Stop()
	var changes <-chan rename.Change
	if c.watcher != nil {
		changes = c.watcher.Changes()
	}
	c.pollHostfile()
	c.kickJoin()
	var pending netip.Addr // an address a failed rename is retried with
	for {
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
			if c.pollHostfile() {
				c.kickJoin()
			}
		case <-retry.C:
			if pending.IsValid() {
				pending = c.applyChange(rename.Change{New: pending})
			}
			c.kickJoin()
		case f := <-c.calls:
			f()
		case <-c.checks.Notify():
			c.applyChecks()
		case ch, ok := <-changes:
			if !ok {
				changes = nil
				continue
			}
			pending = c.applyChange(ch)
			c.hostfile = fileState{} // re-read: which entry is self may have changed
		}
	}
}

// addresses returns the bind and advertise addresses from the options;
// following the address with w, the advertised one is w's, invalid when
// there is none.
func (c *core) addresses(w *rename.Watcher) (bind, adv netip.AddrPort, err error) {
	bind = c.opt.bind
	ip := c.opt.advertise
	switch {
	case ip.IsValid():
	case w != nil:
		if ip = w.Current(); !ip.IsValid() {
			return bind, adv, nil
		}
	default:
		ip = bind.Addr()
		if ip.IsUnspecified() {
			if ip, err = defaultAdvertise(); err != nil {
				return bind, adv, err
			}
		}
	}
	return bind, netip.AddrPortFrom(ip, bind.Port()), nil
}

// startTracker installs a tracker with these addresses (see
// installTracker) and starts discovery at them.
func (c *core) startTracker(bind, adv netip.AddrPort, prev string) error {
	if err := c.installTracker(bind, adv, prev); err != nil {
		return err
	}
	c.startDiscovery()
	return nil
}

// installTracker creates a tracker with these addresses, subscribes to
// it, tracks every entry and installs it as the current tracker.
func (c *core) installTracker(bind, adv netip.AddrPort, prev string) error {
	cfg := &tracker.Config{
		Name:          c.opt.name + "@" + adv.Addr().String(),
		BindAddr:      bind,
		AdvertiseAddr: adv,
		SecretKey:     c.opt.key,
		Label:         c.opt.label,
		PreviousName:  prev,
	}
	if c.opt.verbose {
		cfg.Logger = c.log
	}
	t, err := tracker.New(cfg)
	if err != nil {
		return err
	}
	if bind.Port() == 0 { // a free port was picked
		bind = netip.AddrPortFrom(bind.Addr(), t.Addr().Port())
		adv = netip.AddrPortFrom(adv.Addr(), t.Addr().Port())
	}
	sub := t.SubscribeMembers("")
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range sortedIDs(c.entries) {
		e := c.entries[id]
		if !e.up {
			continue
		}
		if _, err := t.Track(id.service, id.key, e.spec.meta); err != nil {
			sub.Close()
			t.Close()
			if errors.Is(err, tracker.ErrMetaTooLarge) {
				return cliutil.Usagef("track %s: %v: keep --meta under %d bytes", id.service, err, tracker.MaxMetaLen)
			}
			return fmt.Errorf("track %s: %w", id.service, err)
		}
	}
	c.t, c.bind, c.adv = t, bind, adv
	c.drained = make(chan struct{})
	c.wg.Add(1)
	go c.consume(sub, c.drained)
	return nil
}

// consume hands the diffs of one tracker, membership changes included,
// to the hub until it closes.
func (c *core) consume(sub *tracker.Subscription, drained chan struct{}) {
	defer c.wg.Done()
	defer close(drained)
	for d := range sub.C {
		c.hub.applyDiff(d)
	}
}

// leave leaves the cluster gracefully and closes the tracker.
func (c *core) leave() error {
	c.mu.Lock()
	t := c.t
	c.mu.Unlock()
	if t == nil {
		return nil
	}
	if err := t.Leave(leaveTimeout); err != nil && !errors.Is(err, tracker.ErrClosed) {
		return err
	}
	return nil
}

// reidentify replaces the tracker by one named NAME@newAddr, on the loop
// (see renameTo).
func (c *core) reidentify(newAddr netip.Addr) error {
	return c.onLoop(func() error { return c.renameTo(newAddr) })
}

// renameTo replaces the tracker by one named NAME@newAddr (for example
// after a DHCP address change): it leaves with the old one, starts the new
// one with Config.PreviousName set to the old name, joins the last known
// live members (and, in the join loop, the hostfile peers that are not
// members, so dead ones do not delay it), and tracks the same entries.
// Bound to a specific address, the agent rebinds to newAddr (same port);
// bound to 0.0.0.0 it only advertises newAddr. Peers see the old node's
// entries leave and the new node's join with PrevNode.
//
// Offline (after loseAddr), it starts the new tracker the same way, named
// after the tracker that left (no PreviousName if the name is the same).
//
// If the new tracker cannot start, the agent restarts with its old
// addresses (or stays offline) and returns the error. It runs on the loop.
func (c *core) renameTo(newAddr netip.Addr) error {
	c.mu.Lock()
	online, oldBind, oldAdv := c.t != nil, c.bind, c.adv
	c.mu.Unlock()
	if online {
		c.retire(false)
	}
	local, _ := interfaceAddrs(true)
	c.mu.Lock()
	c.local = local
	c.mu.Unlock()
	prev, peers := c.prevName, c.prevPeers
	bind := oldBind
	if !bind.Addr().IsUnspecified() {
		bind = netip.AddrPortFrom(newAddr, bind.Port())
	}
	adv := netip.AddrPortFrom(newAddr, bind.Port())
	name := c.opt.name + "@" + newAddr.String()
	was := prev
	if prev == name {
		was = "" // the same node back
	}
	if err := c.startTracker(bind, adv, was); err != nil {
		if !online {
			return fmt.Errorf("join as %s: %w", name, err)
		}
		if rerr := c.startTracker(oldBind, oldAdv, ""); rerr != nil {
			return fmt.Errorf("rename to %s: %w; restart as %s: %w", newAddr, err, prev, rerr)
		}
		c.kickJoin()
		c.rejoin(peers)
		return fmt.Errorf("rename to %s: %w", newAddr, err)
	}
	switch {
	case online && prev == name: // a restart with a new key: reload reports it
	case online:
		c.warn("renamed %s -> %s", prev, name)
	case prev == "":
		c.warn("address %s: joining the cluster as %s", newAddr, name)
	default:
		c.warn("address %s: joining the cluster as %s (was %s)", newAddr, name, prev)
	}
	c.kickJoin() // the hostfile's peers, concurrently: some may be down
	c.rejoin(peers)
	return nil
}

// retire leaves the cluster with the current tracker and uninstalls it
// (t becomes nil), remembering its name and live peers for the next
// start. This node's entries are reported as left; with all, so is every
// entry and member, as an agent without a tracker sees nothing. It runs on
// the loop.
func (c *core) retire(all bool) {
	c.stopDiscovery()
	c.mu.Lock()
	old := c.t
	c.mu.Unlock()
	var peers []string
	for _, m := range old.Members() {
		if !m.Local {
			peers = append(peers, m.Addr.String())
		}
	}
	prev := old.LocalNode()
	if err := old.Leave(leaveTimeout); err != nil && !errors.Is(err, tracker.ErrClosed) {
		c.log.Debug("leave", "err", err)
	}
	<-c.drained
	c.mu.Lock()
	c.t = nil
	c.retired = addStats(c.retired, old.Stats())
	c.mu.Unlock()
	c.prevName, c.prevPeers = prev, peers
	if all {
		c.hub.dropAll()
		return
	}
	c.hub.dropNode(prev)
}

// rejoin joins peers with the current tracker, then reports as left the
// entries the new tracker does not show. It runs on the loop.
func (c *core) rejoin(peers []string) {
	c.mu.Lock()
	t, self := c.t, c.selfLocked()
	c.mu.Unlock()
	var join []string
	for _, p := range slices.Compact(slices.Sorted(slices.Values(peers))) {
		if ap, err := netip.ParseAddrPort(p); err == nil && self(ap) {
			continue
		}
		join = append(join, p)
	}
	// Probed first: some may have died meanwhile. Members are joined too:
	// the join loop, kicked at the same time, may have made a peer a
	// member whose records it has not merged yet, and the reconcile below
	// would report that peer's entries as left (TestReidentify, once in CI).
	if len(join) > 0 {
		if _, err := joinPeers(context.Background(), t, join, probeWorkers(), joinMembers); err != nil {
			c.log.Debug("rejoin", "err", err)
		}
	}
	var now []tracker.Presence
	for _, svc := range t.Services() {
		now = append(now, t.List(svc)...)
	}
	c.hub.reconcile(now)
	c.hub.resyncMembers(t.Members)
}

// selfLocked returns the matcher of this agent's addresses. c.mu is held.
func (c *core) selfLocked() func(netip.AddrPort) bool {
	return selfMatcher(c.bind, c.adv, c.local)
}

// reload re-reads the hostfile and the key file (SIGHUP), on the loop. A
// new key makes the node leave and join again with it; a key file that
// cannot be read is a warning, and the old key stays.
func (c *core) reload() error {
	return c.onLoop(func() error { c.reloadFiles(); return nil })
}

func (c *core) reloadFiles() {
	c.hostfile = fileState{}
	c.pollHostfile()
	c.kickJoin()
	if c.opt.keyFile == "" {
		c.warn("SIGHUP: re-read the hostfile")
		return
	}
	k, err := readKeyFile(c.opt.keyFile)
	if err != nil {
		c.warn("warning: SIGHUP: %v (keeping the old key)", err)
		return
	}
	same := bytes.Equal(k, c.opt.key)
	c.opt.key = k
	c.mu.Lock()
	online, cur := c.t != nil, c.adv.Addr()
	c.mu.Unlock()
	switch {
	case same:
		c.warn("SIGHUP: re-read the hostfile and the key file (key unchanged)")
	case !online:
		c.warn("SIGHUP: new key, used when an address returns")
	default:
		if err := c.renameTo(cur); err != nil {
			c.warn("SIGHUP: rejoin with the new key: %v", err)
			return
		}
		c.warn("SIGHUP: new key: rejoined the cluster with it")
	}
}

// announce prints where the agent gossips and listens.
func (c *core) announce(socket string) {
	c.mu.Lock()
	if c.t != nil {
		c.warn("%s gossiping on %s, control socket %s", c.t.LocalNode(), c.adv, socket)
	} else {
		c.warn("no IPv4 address yet: waiting for one to join the cluster; control socket %s", socket)
	}
	c.mu.Unlock()
	if len(c.opt.key) == 0 {
		c.warn("warning: gossip is unencrypted: anyone on the network can read and join it (use --key-file)")
	}
}
