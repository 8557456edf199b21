package sdjoincmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/cliutil"
	"github.com/ipfinder-go/ipfinder/rename"
	"github.com/ipfinder-go/ipfinder/tracker"
)

// trackKey is the key of every entry the agent tracks: one entry per
// service and node.
const trackKey = "sdjoin"

// Defaults of the agent's timing knobs (hidden flags, so tests can shorten
// them).
const (
	defaultRetryInterval = 30 * time.Second
	defaultHostfilePoll  = 2 * time.Second
	defaultMemberPoll    = 100 * time.Millisecond
	leaveTimeout         = time.Second
	// shutdownTimeout bounds leaving at exit; what has not finished by
	// then (a leave or join stuck on a dead peer) is abandoned.
	shutdownTimeout = leaveTimeout + 500*time.Millisecond
	// flushTimeout bounds writing the last queued output at exit (stdout
	// may be a pipe nobody reads).
	flushTimeout = 250 * time.Millisecond
)

// trackSpec is one --track with its --meta.
type trackSpec struct {
	service string
	meta    map[string]string
}

// agentOptions are the validated flags of the agent.
type agentOptions struct {
	name       string         // NAME of NAME@IP
	bind       netip.AddrPort // gossip bind address
	advertise  netip.Addr     // zero: the bind address, or chosen when unspecified
	tracks     []trackSpec
	hostfiles  []string // candidates; the first that exists is read
	socket     string
	defaultDir bool // socket is in the default directory: check its owner and mode
	key        []byte
	keyFile    string // re-read on SIGHUP
	label      string
	json       bool
	verbose    bool
	retry      time.Duration
	poll       time.Duration
	memberPoll time.Duration
	// rename follows the address as it changes (see follow.go): on when
	// the address was not fixed (no --advertise, unspecified --bind) and
	// --no-rename was not given.
	rename         bool
	renameDebounce time.Duration // rename.Config.Debounce; 0 is its default
	renameGrace    time.Duration // rename.Config.Grace; 0 is its default
}

// agent is a running sdjoin agent: one tracker (replaceable, see
// reidentify; nil while the agent has no address, see lose), the control
// socket, the hostfile poll and the retries.
type agent struct {
	opt   *agentOptions
	out   io.Writer    // events
	errw  *asyncWriter // diagnostics; never blocks
	log   *slog.Logger
	local []netip.Addr // this machine's addresses, for recognizing self

	swapMu sync.Mutex // held while the tracker is replaced or left

	mu       sync.Mutex
	t        *tracker.Tracker // nil: offline (no address, or being replaced)
	prevName string           // name of the last tracker, while t is nil
	prevPeer []string         // its live peers when it left, to rejoin
	drained  chan struct{}    // closed when the diffs of t are consumed
	bind     netip.AddrPort
	adv      netip.AddrPort
	tracked  map[string]map[string]string
	vis      visible
	members  map[string]tracker.Member
	peers    []string
	stdoutW  *watcher
	watchers map[*watcher]struct{}

	// owned by the main loop
	hostfile    fileState
	warnedLines map[string]bool

	joinWarned bool // owned by joinLoop

	joinKick chan struct{}
	wg       sync.WaitGroup
}

func newAgent(opt *agentOptions, stdout, stderr io.Writer) *agent {
	errw := newAsyncWriter(stderr, 1024, func(n int64) {
		fmt.Fprintf(stderr, "sdjoin: warning: stderr is not being read fast enough: %d messages dropped\n", n)
	})
	a := &agent{
		opt:         opt,
		out:         stdout,
		errw:        errw,
		log:         slog.New(slog.DiscardHandler),
		tracked:     make(map[string]map[string]string),
		vis:         make(visible),
		members:     make(map[string]tracker.Member),
		stdoutW:     &watcher{},
		watchers:    make(map[*watcher]struct{}),
		warnedLines: make(map[string]bool),
		joinKick:    make(chan struct{}, 1),
	}
	if opt.verbose {
		a.log = slog.New(slog.NewTextHandler(errw, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	for _, ts := range opt.tracks {
		a.tracked[ts.service] = ts.meta
	}
	return a
}

// warnf prints one diagnostic line on stderr, with any control or
// non-printable character in it escaped (it may quote a hostfile line or
// a name from the network).
func (a *agent) warnf(format string, args ...any) {
	fmt.Fprintf(a.errw, "sdjoin: %s\n", printable(fmt.Sprintf(format, args...)))
}

// run runs the agent until ctx is done, then leaves the cluster. Leaving
// is bounded by shutdownTimeout, writing the last output by flushTimeout.
func (a *agent) run(ctx context.Context) error {
	defer a.errw.Close(flushTimeout)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	ln, err := listenControl(a.opt.socket, a.opt.defaultDir)
	if err != nil {
		return err
	}
	defer ln.Close()
	local, _ := interfaceAddrs(true)
	out := newAsyncWriter(a.out, 4096, func(n int64) {
		a.warnf("stdout is not being read: %d events dropped", n)
	})
	defer out.Close(flushTimeout)
	a.mu.Lock()
	a.local = local
	a.out = out
	a.mu.Unlock()
	w := a.watchAddress(ctx)
	if w != nil {
		defer w.Close()
	}
	if err := a.begin(w); err != nil {
		return err
	}
	srvCtx, stopSrv := context.WithCancel(ctx)
	a.wg.Add(2)
	go a.serve(srvCtx, ln)
	go a.joinLoop(srvCtx)
	a.announce()
	var changes <-chan rename.Change
	if w != nil {
		changes = w.Changes()
	}
	a.loop(ctx, changes, hup)
	stopSrv()
	ln.Close()
	return a.shutdown()
}

// begin starts the tracker at the addresses the options give; following
// the address with none yet, it starts none (offline).
func (a *agent) begin(w *rename.Watcher) error {
	bind, adv, err := a.addresses(w)
	if err != nil {
		return err
	}
	if adv.IsValid() {
		return a.start(bind, adv, "")
	}
	a.mu.Lock()
	a.bind = bind
	a.mu.Unlock()
	return nil
}

// announce prints where the agent gossips and listens.
func (a *agent) announce() {
	a.mu.Lock()
	if a.t != nil {
		a.warnf("%s gossiping on %s, control socket %s", a.t.LocalNode(), a.adv, a.opt.socket)
	} else {
		a.warnf("no IPv4 address yet: waiting for one to join the cluster; control socket %s", a.opt.socket)
	}
	a.mu.Unlock()
	if len(a.opt.key) == 0 {
		a.warnf("warning: gossip is unencrypted: anyone on the network can read and join it (use --key-file)")
	}
}

// shutdown leaves the cluster and waits for the agent's goroutines, for at
// most shutdownTimeout: a leave or join stuck on dead peers must not keep
// the process from exiting.
func (a *agent) shutdown() error {
	done := make(chan error, 1)
	go func() {
		err := a.leave()
		a.wg.Wait()
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(shutdownTimeout):
		a.warnf("warning: leaving the cluster took over %s: exiting anyway", shutdownTimeout)
		return nil
	}
}

// loop polls the hostfile and the members, retries missing peers,
// follows the address changes and reloads on SIGHUP until ctx is done.
func (a *agent) loop(ctx context.Context, changes <-chan rename.Change, hup <-chan os.Signal) {
	poll := time.NewTicker(a.opt.poll)
	defer poll.Stop()
	retry := time.NewTicker(a.opt.retry)
	defer retry.Stop()
	members := time.NewTicker(a.opt.memberPoll)
	defer members.Stop()
	a.pollHostfile()
	a.kickJoin()
	var pending netip.Addr // an address a failed rename is retried with
	for {
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
			if a.pollHostfile() {
				a.kickJoin()
			}
		case <-retry.C:
			if pending.IsValid() {
				pending = a.follow(rename.Change{New: pending})
			}
			a.kickJoin()
		case <-members.C:
			a.pollMembers()
		case <-hup:
			a.reload()
		case c, ok := <-changes:
			if !ok {
				changes = nil
				continue
			}
			pending = a.follow(c)
			a.hostfile = fileState{} // re-read: which entry is self may have changed
		}
	}
}

// reload re-reads the hostfile and the key file (SIGHUP). A new key
// makes the node leave and join again with it; a key file that cannot be
// read is a warning, and the old key stays.
func (a *agent) reload() {
	a.hostfile = fileState{}
	a.pollHostfile()
	a.kickJoin()
	if a.opt.keyFile == "" {
		a.warnf("SIGHUP: re-read the hostfile")
		return
	}
	k, err := readKeyFile(a.opt.keyFile)
	if err != nil {
		a.warnf("warning: SIGHUP: %v (keeping the old key)", err)
		return
	}
	a.swapMu.Lock()
	same := bytes.Equal(k, a.opt.key)
	a.opt.key = k
	a.swapMu.Unlock()
	a.mu.Lock()
	online, cur := a.t != nil, a.adv.Addr()
	a.mu.Unlock()
	switch {
	case same:
		a.warnf("SIGHUP: re-read the hostfile and the key file (key unchanged)")
	case !online:
		a.warnf("SIGHUP: new key, used when an address returns")
	default:
		if err := a.reidentify(cur); err != nil {
			a.warnf("SIGHUP: rejoin with the new key: %v", err)
			return
		}
		a.warnf("SIGHUP: new key: rejoined the cluster with it")
	}
}

// addresses returns the bind and advertise addresses from the options;
// following the address with w, the advertised one is w's, invalid when
// there is none.
func (a *agent) addresses(w *rename.Watcher) (bind, adv netip.AddrPort, err error) {
	bind = a.opt.bind
	ip := a.opt.advertise
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

// start creates a tracker with these addresses, subscribes to it, tracks
// every service and installs it as the agent's tracker.
func (a *agent) start(bind, adv netip.AddrPort, prev string) error {
	cfg := &tracker.Config{
		Name:          a.opt.name + "@" + adv.Addr().String(),
		BindAddr:      bind,
		AdvertiseAddr: adv,
		SecretKey:     a.opt.key,
		Label:         a.opt.label,
		PreviousName:  prev,
	}
	if a.opt.verbose {
		cfg.Logger = a.log
	}
	t, err := tracker.New(cfg)
	if err != nil {
		return err
	}
	if bind.Port() == 0 { // a free port was picked
		bind = netip.AddrPortFrom(bind.Addr(), t.Addr().Port())
		adv = netip.AddrPortFrom(adv.Addr(), t.Addr().Port())
	}
	sub := t.Subscribe("")
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, svc := range slices.Sorted(maps.Keys(a.tracked)) {
		if _, err := t.Track(svc, trackKey, a.tracked[svc]); err != nil {
			sub.Close()
			t.Close()
			if errors.Is(err, tracker.ErrMetaTooLarge) {
				return cliutil.Usagef("track %s: %v: keep --meta under %d bytes", svc, err, tracker.MaxMetaLen)
			}
			return fmt.Errorf("track %s: %w", svc, err)
		}
	}
	a.t, a.bind, a.adv = t, bind, adv
	a.drained = make(chan struct{})
	a.wg.Add(1)
	go a.consume(sub, a.drained)
	return nil
}

// consume turns the diffs of one tracker into events until it closes.
func (a *agent) consume(sub *tracker.Subscription, drained chan struct{}) {
	defer a.wg.Done()
	defer close(drained)
	for d := range sub.C {
		a.mu.Lock()
		a.publish(a.vis.apply(d))
		a.mu.Unlock()
	}
}

// leave leaves the cluster gracefully and closes the tracker.
func (a *agent) leave() error {
	a.swapMu.Lock()
	defer a.swapMu.Unlock()
	a.mu.Lock()
	t := a.t
	for w := range a.watchers {
		w.end(false)
	}
	a.mu.Unlock()
	if t == nil {
		return nil
	}
	if err := t.Leave(leaveTimeout); err != nil && !errors.Is(err, tracker.ErrClosed) {
		return err
	}
	return nil
}

// reidentify replaces the tracker by one named NAME@newAddr (for example
// after a DHCP address change): it leaves with the old one, starts the new
// one with Config.PreviousName set to the old name, joins the last known
// live members (and, in the join loop, the hostfile peers that are not
// members, so dead ones do not delay it), and tracks the same services
// with the same meta. Bound to a specific address, the agent rebinds to
// newAddr (same port); bound to 0.0.0.0 it only advertises newAddr. Peers
// see the old node's entries leave and the new node's join with PrevNode.
//
// Offline (after lose), it starts the new tracker the same way, named
// after the tracker that left (no PreviousName if the name is the same).
//
// If the new tracker cannot start, the agent restarts with its old
// addresses (or stays offline) and returns the error.
func (a *agent) reidentify(newAddr netip.Addr) error {
	a.swapMu.Lock()
	defer a.swapMu.Unlock()
	a.mu.Lock()
	online, oldBind, oldAdv := a.t != nil, a.bind, a.adv
	a.mu.Unlock()
	if online {
		a.retire(false)
	}
	a.mu.Lock()
	prev, peers := a.prevName, a.prevPeer
	a.local, _ = interfaceAddrs(true)
	a.mu.Unlock()
	bind := oldBind
	if !bind.Addr().IsUnspecified() {
		bind = netip.AddrPortFrom(newAddr, bind.Port())
	}
	adv := netip.AddrPortFrom(newAddr, bind.Port())
	name := a.opt.name + "@" + newAddr.String()
	was := prev
	if prev == name {
		was = "" // the same node back
	}
	if err := a.start(bind, adv, was); err != nil {
		if !online {
			return fmt.Errorf("join as %s: %w", name, err)
		}
		if rerr := a.start(oldBind, oldAdv, ""); rerr != nil {
			return fmt.Errorf("rename to %s: %w; restart as %s: %w", newAddr, err, prev, rerr)
		}
		a.kickJoin()
		a.rejoin(peers)
		return fmt.Errorf("rename to %s: %w", newAddr, err)
	}
	switch {
	case online && prev == name: // a restart with a new key: reload reports it
	case online:
		a.warnf("renamed %s -> %s", prev, name)
	case prev == "":
		a.warnf("address %s: joining the cluster as %s", newAddr, name)
	default:
		a.warnf("address %s: joining the cluster as %s (was %s)", newAddr, name, prev)
	}
	a.kickJoin() // the hostfile's peers, concurrently: some may be down
	a.rejoin(peers)
	return nil
}

// retire leaves the cluster with the current tracker and uninstalls it
// (a.t becomes nil), remembering its name and live peers for the next
// start. This node's entries are reported as left; with all, so is every
// entry and member, as an agent without a tracker sees nothing. a.swapMu
// is held.
func (a *agent) retire(all bool) {
	a.mu.Lock()
	old, drained := a.t, a.drained
	a.mu.Unlock()
	var peers []string
	for _, m := range old.Members() {
		if !m.Local {
			peers = append(peers, m.Addr.String())
		}
	}
	prev := old.LocalNode()
	if err := old.Leave(leaveTimeout); err != nil && !errors.Is(err, tracker.ErrClosed) {
		a.log.Debug("leave", "err", err)
	}
	<-drained
	a.mu.Lock()
	defer a.mu.Unlock()
	a.t, a.prevName, a.prevPeer = nil, prev, peers
	if all {
		a.publish(a.vis.reconcile(nil))
		var gone []record
		for _, name := range slices.Sorted(maps.Keys(a.members)) {
			gone = append(gone, record{Event: evMemberLeave, Node: name, Addr: a.members[name].Addr})
		}
		clear(a.members)
		a.publish(gone)
		return
	}
	var gone []record
	for k, p := range a.vis {
		if k.node == prev {
			delete(a.vis, k)
			gone = append(gone, eventRecord(evLeave, p))
		}
	}
	sortRecords(gone)
	a.publish(gone)
}

// rejoin joins peers with the current tracker, then reports as left the
// entries the new tracker does not show.
func (a *agent) rejoin(peers []string) {
	a.mu.Lock()
	t, self := a.t, a.selfLocked()
	a.mu.Unlock()
	var join []string
	for _, p := range slices.Compact(slices.Sorted(slices.Values(peers))) {
		if ap, err := netip.ParseAddrPort(p); err == nil && self(ap) {
			continue
		}
		join = append(join, p)
	}
	if len(join) > 0 { // probed first: some may have died meanwhile
		if _, err := joinPeers(context.Background(), t, join, probeWorkers()); err != nil {
			a.log.Debug("rejoin", "err", err)
		}
	}
	var now []tracker.Presence
	for _, svc := range t.Services() {
		now = append(now, t.List(svc)...)
	}
	a.mu.Lock()
	a.publish(a.vis.reconcile(now))
	a.mu.Unlock()
}

// selfLocked returns the matcher of this agent's addresses. a.mu is held.
func (a *agent) selfLocked() func(netip.AddrPort) bool {
	return selfMatcher(a.bind, a.adv, a.local)
}

// pollHostfile re-reads the hostfile if it changed and reports whether
// the peers changed.
func (a *agent) pollHostfile() bool {
	path := pickHostfile(a.opt.hostfiles)
	st := statFile(path)
	if st.path == a.hostfile.path && st.err == a.hostfile.err && st.ino == a.hostfile.ino &&
		st.size == a.hostfile.size && st.mtime.Equal(a.hostfile.mtime) {
		return false
	}
	a.hostfile = st
	if st.err != "" {
		a.warnf("warning: no hostfile: %s (polling it; peers can still join us)", st.err)
		return false
	}
	hosts, bad, err := readHostfile(path)
	if err != nil {
		a.warnf("warning: hostfile %s: %v (polling it)", path, err)
		return false
	}
	a.warnBadLines(path, bad)
	a.mu.Lock()
	self := a.selfLocked()
	a.mu.Unlock()
	peers := peersFromHosts(hosts, self) // not under a.mu: the file may be long
	a.mu.Lock()
	defer a.mu.Unlock()
	changed := !slices.Equal(peers, a.peers)
	a.peers = peers
	a.log.Debug("hostfile read", "path", path, "peers", len(peers))
	return changed
}

// maxLineWarnings bounds the warnings about bad lines per hostfile read.
const maxLineWarnings = 10

// warnBadLines warns once about each bad line of the hostfile, at most
// maxLineWarnings at a time, then counts the rest.
func (a *agent) warnBadLines(path string, bad []error) {
	n := 0
	for _, e := range bad {
		msg := e.Error()
		if a.warnedLines[msg] {
			continue
		}
		if n++; n <= maxLineWarnings {
			a.warnedLines[msg] = true
			a.warnf("warning: skipped %s", msg)
		}
	}
	if n > maxLineWarnings {
		a.warnf("warning: skipped %d more bad lines of %s", n-maxLineWarnings, path)
	}
}

func (a *agent) kickJoin() {
	select {
	case a.joinKick <- struct{}{}:
	default:
	}
}

// joinLoop joins the missing peers whenever kicked, until ctx is done.
func (a *agent) joinLoop(ctx context.Context) {
	defer a.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.joinKick:
		}
		a.joinMissing(ctx)
	}
}

// joinMissing joins the hostfile peers that are not members (see
// joinPeers).
func (a *agent) joinMissing(ctx context.Context) {
	a.mu.Lock()
	t, peers := a.t, a.peers
	a.mu.Unlock()
	if t == nil {
		return
	}
	missing := notMembers(t, peers)
	if len(missing) == 0 {
		return
	}
	n, err := joinPeers(ctx, t, missing, probeWorkers())
	a.log.Debug("join", "tried", len(missing), "reached", n, "err", err)
	switch {
	case ctx.Err() != nil || errors.Is(err, tracker.ErrClosed):
	case n == 0 && !a.joinWarned:
		a.joinWarned = true
		a.warnf("no peer reachable yet (%d tried); retrying every %s", len(missing), a.opt.retry)
	case n > 0:
		a.joinWarned = false
	}
}

// notMembers returns the peers that are not members of t.
func notMembers(t *tracker.Tracker, peers []string) []string {
	have := map[string]bool{}
	for _, m := range t.Members() {
		have[m.Addr.String()] = true
	}
	var out []string
	for _, p := range peers {
		if !have[p] {
			out = append(out, p)
		}
	}
	return out
}

// pollMembers reports the nodes that joined or left since the last poll.
func (a *agent) pollMembers() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.t == nil { // offline
		return
	}
	ms := a.t.Members()
	if ms == nil { // closed: being replaced
		return
	}
	now := make(map[string]tracker.Member, len(ms))
	var events []record
	for _, m := range ms {
		if m.Local {
			continue
		}
		now[m.Name] = m
		if _, ok := a.members[m.Name]; !ok {
			r := memberRecord(m)
			r.Event = evMemberJoin
			events = append(events, r)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(a.members)) {
		if _, ok := now[name]; !ok {
			events = append(events, record{Event: evMemberLeave, Node: name, Addr: a.members[name].Addr})
		}
	}
	a.members = now
	a.publish(events)
}

// publish writes events to stdout and hands them to the watchers. a.mu is
// held.
func (a *agent) publish(events []record) {
	for _, r := range events {
		if a.stdoutW.admit(r) {
			if err := writeRecord(a.out, r, a.opt.json); err != nil {
				a.log.Debug("write event", "err", err)
			}
		}
		for w := range a.watchers {
			if w.admit(r) && !w.offer(r) {
				delete(a.watchers, w)
			}
		}
	}
}

// isClosedConn reports errors from using a closed connection.
func isClosedConn(err error) bool { return errors.Is(err, net.ErrClosed) }
