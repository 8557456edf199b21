package tracker

import (
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// Admission of new members. Without a key anyone can gossip "node X is
// alive at address A", and memberlist probes every such phantom in its
// round robin, each probe timing out: hundreds of phantoms delay the
// detection of a real crash by minutes. The gate (memberlist's
// AliveDelegate) admits at once a node that is a member we know at that
// address, answers at an address we are joining, or answered a ping sent
// to its address under its name, which a phantom cannot do. Any other
// node is pinged; meanwhile a few of them (1 + members/8) are admitted
// on probation (memberlist probes them, the tracker keeps no state for
// them and never joins them) and the others are refused, which
// memberlist neither keeps nor re-gossips. A refused node that answers
// its ping is admitted by the next alive message about it; if none
// came by the next tick, a push/pull with it brings it (and whoever
// else it knows) in.
//
// Up to gateInFlight pings (each waiting memberlist's probe timeout)
// take nodes from a bag: when the bag is full a new node replaces a
// random one, so a flood of new names cannot keep out a node that is
// announced again and again. More pings would verify more nodes, but
// memberlist piggybacks gossip on every ping, and a ping to a phantom
// spends that gossip (a suspicion, a refutation, a change) on nobody.
// TCP, which a UDP spoofer cannot complete, is the fast lane: the nodes
// a join's push/pull lists at the address of a recent inbound stream
// are pinged at once, before memberlist asks the gate (see vouch), and
// a node that just joined push/pulls once with every node it verifies
// that has not shown by then that it knows this one (see joining), so
// each member hears of it over TCP.
const (
	probationTTL = 10 * time.Second       // for one memberlist never reported joined
	gateQueue    = 1024                   // nodes waiting for a ping
	gateInFlight = 8                      // pings in flight
	gateRetry    = 500 * time.Millisecond // times tries, before pinging a silent node again
	gateTries    = 4                      // pings of a refused node before giving up
	gateMax      = 4096                   // verified or failed nodes remembered
	gateTick     = 250 * time.Millisecond
	// gatePushPulls bounds the push/pulls a tick runs at once: each
	// merges every node of the peer under memberlist's node lock, which
	// its UDP acks wait for; 8 at once, 30 agents started together each
	// greeting ~25 nodes, stalled some agents' acks for seconds.
	gatePushPulls = 2
	streamTTL     = 5 * time.Second  // how long an inbound stream vouches for its address
	greetWindow   = 10 * time.Second // after Join, push/pull once with each node verified
	vouchMax      = 4                // nodes pinged at once per join push/pull
	vouchJoinMax  = 64               // nodes pinged at once for our own join
	vouchBusy     = 32               // push/pulls vouching at once (agents started together all join one)
)

var errUnverified = errors.New("tracker: node not verified yet")

// candidate is a node asking for admission.
type candidate struct {
	Name string
	Addr netip.AddrPort
}

// probation is a node admitted before it answered a ping.
type probation struct {
	addr  netip.AddrPort
	since time.Time
	node  *memberlist.Node // as memberlist reported it joined; nil until then
}

type gate struct {
	t         *Tracker
	mu        sync.Mutex
	dialing   map[netip.AddrPort]int   // addresses being joined
	verified  map[candidate]time.Time  // answered a ping, when
	failed    map[candidate]time.Time  // did not answer: ping again after
	tries     map[candidate]int        // unanswered pings, while retrying
	queued    map[candidate]bool       // in the bag or being pinged
	bag       []candidate              // waiting for a ping
	wake      chan struct{}            // something entered the bag
	kick      chan struct{}            // tick has work (see run)
	probation map[string]*probation    // by name
	refused   map[candidate]int        // answered after being refused: push/pulls tried
	greet     map[candidate]bool       // verified soon after our join: push/pull once
	knownBy   map[string]bool          // nodes that showed they know us since our join
	joined    time.Time                // when this node last called Join
	streams   map[netip.Addr]time.Time // remote addresses of inbound streams, when
	vouchFor  map[candidate]bool       // being pinged by vouch

	ml       atomic.Pointer[memberlist.Memberlist] // to ping with; nil until memberlist.Create returned
	vouching atomic.Int32                          // push/pulls in vouch
}

func newGate(t *Tracker) *gate {
	return &gate{
		t:         t,
		dialing:   make(map[netip.AddrPort]int),
		verified:  make(map[candidate]time.Time),
		failed:    make(map[candidate]time.Time),
		queued:    make(map[candidate]bool),
		probation: make(map[string]*probation),
		refused:   make(map[candidate]int),
		greet:     make(map[candidate]bool),
		knownBy:   make(map[string]bool),
		tries:     make(map[candidate]int),
		wake:      make(chan struct{}, 1),
		kick:      make(chan struct{}, 1),
		streams:   make(map[netip.Addr]time.Time),
		vouchFor:  make(map[candidate]bool),
	}
}

// NotifyAlive implements memberlist.AliveDelegate. memberlist calls it
// with its node lock held: it must not call back into memberlist.
func (d *delegate) NotifyAlive(n *memberlist.Node) error {
	if n.Name == d.t.name {
		return nil
	}
	return d.t.gate.admit(candidate{Name: n.Name, Addr: nodeAddr(n)}, time.Now())
}

func nodeAddr(n *memberlist.Node) netip.AddrPort {
	a, _ := netip.AddrFromSlice(n.Addr)
	return netip.AddrPortFrom(a.Unmap(), n.Port)
}

// admit decides on an alive message about c.
func (g *gate) admit(c candidate, now time.Time) error {
	if g.known(c) {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.dialing[c.Addr] > 0 {
		g.remember(g.verified, c, now)
		return nil
	}
	if at, ok := g.verified[c]; ok && now.Sub(at) <= g.t.permdown {
		return nil
	}
	if p := g.probation[c.Name]; p != nil && p.addr == c.Addr {
		return nil
	}
	if now.Before(g.failed[c]) {
		return errUnverified
	}
	g.ask(c)
	if len(g.probation) >= g.slots() {
		return errUnverified
	}
	g.probation[c.Name] = &probation{addr: c.Addr, since: now}
	g.poke()
	return nil
}

// poke tells run that tick has work.
func (g *gate) poke() {
	select {
	case g.kick <- struct{}{}:
	default:
	}
}

// busy reports whether tick has work: nodes on probation, to ping again
// or to push/pull with. g.mu must be held.
func (g *gate) busy() bool {
	return len(g.probation)+len(g.tries)+len(g.refused)+len(g.greet) > 0
}

// slots is how many unverified nodes memberlist may hold: enough for a
// few real ones joining at once, too few for phantoms to matter in the
// probe rotation.
func (g *gate) slots() int { return 1 + int(g.t.alive.Load())/8 }

// known reports whether c is a member of the view (alive, or down and
// kept) at that address.
func (g *gate) known(c candidate) bool {
	t := g.t
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.v.members[c.Name]
	return m != nil && m.Addr == c.Addr
}

// ask puts c in the bag of nodes to ping unless it is there or being
// pinged. A full bag (a flood) drops a random node for c: every alive
// message gives its node a new chance.
func (g *gate) ask(c candidate) {
	if g.queued[c] {
		return
	}
	if len(g.bag) < gateQueue {
		g.bag = append(g.bag, c)
	} else {
		i := rand.IntN(len(g.bag))
		delete(g.queued, g.bag[i])
		g.bag[i] = c
	}
	g.queued[c] = true
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// next takes a random node from the bag.
func (g *gate) next() (candidate, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := len(g.bag)
	if n == 0 {
		return candidate{}, false
	}
	i := rand.IntN(n)
	c := g.bag[i]
	g.bag[i] = g.bag[n-1]
	g.bag = g.bag[:n-1]
	return c, true
}

// streamFrom records an inbound stream from a.
func (g *gate) streamFrom(a netip.Addr) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for k := range g.streams {
		if len(g.streams) < gateMax {
			break
		}
		delete(g.streams, k)
	}
	g.streams[a] = time.Now()
}

// NotifyMerge implements memberlist.MergeDelegate. memberlist calls it,
// without its lock, with the nodes a join's push/pull (over TCP) lists,
// before merging them.
func (d *delegate) NotifyMerge(peers []*memberlist.Node) error {
	d.t.gate.vouch(peers, time.Now())
	return nil
}

// vouch pings at once, side by side and up to gateTries times, the
// unknown nodes a join's push/pull lists at the address of a recent
// inbound stream: a real node joining through us (over TCP) is verified
// before memberlist asks the gate about it, however many phantoms wait
// in the bag. While vouchBusy push/pulls are vouching, others do not
// (their nodes wait in the bag): each holds one of memberlist's stream
// handlers for up to gateTries probe timeouts.
//
// The push/pull of our own join, with a node we dialed, lists the
// members it knows: vouch pings up to vouchJoinMax of them once, before
// the merge, so the members that answer are admitted at once. Otherwise
// the joiner refused nearly all of them (it has one probation slot) and
// push/pulled with each at the next tick (issue 15).
func (g *gate) vouch(peers []*memberlist.Node, now time.Time) {
	if g.ml.Load() == nil { // a stream came in before New finished
		return
	}
	if g.vouching.Add(1) > vouchBusy {
		g.vouching.Add(-1)
		return
	}
	defer g.vouching.Add(-1)
	cs := g.vouched(peers, now)
	tries := make(map[candidate]int, len(cs))
	for _, c := range cs {
		tries[c] = gateTries
	}
	if g.ourJoin(peers) { // or a list pushed to us while we dial a node it lists
		for _, c := range g.vouchedJoin(peers) {
			cs, tries[c] = append(cs, c), 1
		}
	}
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				g.mu.Lock()
				delete(g.vouchFor, c)
				g.mu.Unlock()
			}()
			for range tries[c] {
				if g.ping(c) {
					return
				}
			}
		}()
	}
	wg.Wait()
}

// vouched picks the nodes vouch pings: alive, unknown, unverified, not
// being pinged by another vouch, at the address of an inbound stream
// seen within streamTTL; at most vouchMax. It marks them being pinged.
// (Agents started together push/pull with each other at once: without
// the mark, each push/pull pinged the same few new nodes again.)
func (g *gate) vouched(peers []*memberlist.Node, now time.Time) []candidate {
	return g.pick(peers, vouchMax, func(c candidate) bool {
		at, streamed := g.streams[c.Addr.Addr()]
		return streamed && now.Sub(at) < streamTTL
	})
}

// vouchedJoin picks the nodes vouch pings for our join: alive, unknown,
// unverified, not being pinged by another vouch; at most vouchJoinMax.
// It marks them being pinged.
func (g *gate) vouchedJoin(peers []*memberlist.Node) []candidate {
	return g.pick(peers, vouchJoinMax, func(candidate) bool { return true })
}

// pick returns up to max of peers that are alive, unknown, unverified,
// not being pinged by vouch and that ok accepts (called with g.mu
// held), and marks them being pinged.
func (g *gate) pick(peers []*memberlist.Node, max int, ok func(candidate) bool) []candidate {
	var cs []candidate
	for _, n := range peers {
		if len(cs) == max {
			break
		}
		c := candidate{Name: n.Name, Addr: nodeAddr(n)}
		if n.Name == g.t.name || n.State != memberlist.StateAlive || g.known(c) {
			continue
		}
		g.mu.Lock()
		if _, verified := g.verified[c]; !verified && !g.vouchFor[c] && ok(c) {
			g.vouchFor[c] = true
			cs = append(cs, c)
		}
		g.mu.Unlock()
	}
	return cs
}

// ourJoin reports whether peers, a push/pull's list, came from a node we
// are dialing (listed at an address being joined).
func (g *gate) ourJoin(peers []*memberlist.Node) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, n := range peers {
		if g.dialing[nodeAddr(n)] > 0 {
			return true
		}
	}
	return false
}

// hold keeps a node on probation from the view, remembering how
// memberlist reported it; it reports whether n is on probation.
func (g *gate) hold(n *memberlist.Node) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	p := g.probation[n.Name]
	if p == nil {
		return false
	}
	p.node = &memberlist.Node{Name: n.Name, Addr: n.Addr, Port: n.Port, Meta: n.Meta, State: n.State}
	return true
}

// release ends the probation of a node memberlist reports gone; it
// reports whether the node was on probation (and so unknown to the view).
func (g *gate) release(name string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.probation[name]
	delete(g.probation, name)
	return ok
}

// pinger pings the nodes in the bag, up to gateInFlight at a time, until
// the tracker closes; it waits for its pings.
func (g *gate) pinger() {
	defer g.t.wg.Done()
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, gateInFlight)
	for {
		select {
		case <-g.t.done:
			return
		case slots <- struct{}{}:
		}
		c, ok := g.next()
		for !ok {
			select {
			case <-g.t.done:
				return
			case <-g.wake:
			}
			c, ok = g.next()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			g.ping(c)
			<-slots
		}()
	}
}

// ping pings c at its address under its name, records the answer and
// reports it.
func (g *gate) ping(c candidate) bool {
	_, err := g.ml.Load().Ping(c.Name, net.UDPAddrFromAddrPort(c.Addr))
	g.verify(c, err == nil, time.Now())
	return err == nil
}

// verify records the answer of c; a node on probation that answered
// joins the view.
func (g *gate) verify(c candidate, answered bool, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.queued, c)
	defer g.poke()
	if !answered {
		n := min(g.tries[c]+1, gateTries)
		g.remember(g.failed, c, now.Add(time.Duration(n)*gateRetry))
		if len(g.tries) < gateMax {
			g.tries[c] = n
		}
		return
	}
	delete(g.failed, c)
	delete(g.tries, c)
	g.remember(g.verified, c, now)
	if now.Sub(g.joined) < greetWindow && len(g.greet) < gateMax {
		g.greet[c] = true
	}
	p := g.probation[c.Name]
	if p == nil || p.addr != c.Addr {
		if _, ok := g.refused[c]; !ok && len(g.refused) < gateMax {
			g.refused[c] = 0
		}
		return
	}
	delete(g.probation, c.Name)
	if p.node != nil {
		g.t.memberUp(p.node)
	}
}

// joining notes that this node joins a cluster: for a while, every node
// it verifies gets a push/pull from it, which tells that node about this
// one over TCP (see vouch), however many phantoms it is pinging.
func (g *gate) joining(now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.joined = now
	clear(g.knownBy)
}

// knows notes that node showed it knows this one (it push/pulled with
// us, or asked for our record): it needs no greeting.
func (g *gate) knows(node string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if now := time.Now(); now.Sub(g.joined) < greetWindow+gateTick && len(g.knownBy) < gateMax {
		g.knownBy[node] = true
	}
}

// remember stores c in m, which never grows past gateMax.
func (g *gate) remember(m map[candidate]time.Time, c candidate, at time.Time) {
	for k := range m {
		if len(m) < gateMax {
			break
		}
		delete(m, k)
	}
	m[c] = at
}

// run ticks every gateTick while tick has work, until the tracker
// closes: an idle agent does not wake up for the gate.
func (g *gate) run() {
	defer g.t.wg.Done()
	tick := time.NewTimer(gateTick)
	defer tick.Stop()
	ticking := true
	for {
		select {
		case <-g.t.done:
			return
		case <-g.kick:
			if !ticking {
				tick.Reset(gateTick)
				ticking = true
			}
		case now := <-tick.C:
			g.pushPull(g.tick(now))
			g.mu.Lock()
			if ticking = g.busy(); ticking {
				tick.Reset(gateTick)
			}
			g.mu.Unlock()
		}
	}
}

// pushPull push/pulls with every node in cs, gatePushPulls at a time,
// and waits for them.
func (g *gate) pushPull(cs []candidate) {
	var wg sync.WaitGroup
	slots := make(chan struct{}, gatePushPulls)
	for _, c := range cs {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			if _, err := g.t.joinAddr(c.Addr.String()); err != nil {
				g.t.log.Debug("tracker: push/pull with verified node failed", "node", c.Name, "err", err)
			}
		}()
	}
	wg.Wait()
}

// tick asks again about nodes on probation, drops probations memberlist
// never acted on, and forgets verifications older than the permdown
// period (admit ignores them meanwhile) and streams older than streamTTL.
// It returns the nodes to push/pull with: every refused node that
// answered (each for up to gateTries ticks, until it is a member) and
// every node to greet that has not shown it knows us (once). One a tick made 30 agents started together wait
// seconds for each other.
func (g *gate) tick(now time.Time) []candidate {
	g.mu.Lock()
	defer g.mu.Unlock()
	for name, p := range g.probation {
		c := candidate{Name: name, Addr: p.addr}
		switch {
		case p.node == nil && now.Sub(p.since) > probationTTL:
			delete(g.probation, name)
		case !now.Before(g.failed[c]):
			g.ask(c)
		}
	}
	for c, n := range g.tries {
		switch {
		case g.probation[c.Name] != nil: // asked above, for as long as it lasts
		case n >= gateTries:
			delete(g.tries, c)
		case !now.Before(g.failed[c]):
			g.ask(c)
		}
	}
	for c, at := range g.verified {
		if now.Sub(at) > g.t.permdown {
			delete(g.verified, c)
		}
	}
	for a, at := range g.streams {
		if now.Sub(at) > streamTTL {
			delete(g.streams, a)
		}
	}
	var out []candidate
	for c, n := range g.refused {
		if n >= gateTries || g.known(c) {
			delete(g.refused, c) // later, its alive messages admit it
			continue
		}
		g.refused[c] = n + 1
		out = append(out, c)
	}
	for c := range g.greet {
		delete(g.greet, c)
		if !g.knownBy[c.Name] && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// dial marks an address being joined: whoever answers there proved it
// owns it, so alive messages for it are admitted meanwhile. It returns
// the function that ends the mark.
func (g *gate) dial(a netip.AddrPort) func() {
	g.mu.Lock()
	g.dialing[a]++
	g.mu.Unlock()
	return func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.dialing[a]--; g.dialing[a] <= 0 {
			delete(g.dialing, a)
		}
	}
}
