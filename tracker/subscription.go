package tracker

import (
	"cmp"
	"maps"
	"slices"
	"sync"
)

// Diff is a batch of changes to one service, as seen by this node, or
// (on a subscription from SubscribeMembers) one membership change.
// Leaves come before joins: an Update of an entry appears as a leave of
// the old version and a join of the new one.
type Diff struct {
	Service string
	Leaves  []Presence
	Joins   []Presence
	// Renamed maps a node's previous name to its new name for every
	// join in this batch from a node that declared one
	// (Config.PreviousName). The old node's entries leave (in this or an
	// earlier Diff) when the renamed node is first seen.
	Renamed map[string]string
	// Member, if not nil, is a membership change, and the fields above
	// are empty.
	Member *MemberEvent
}

// MemberEvent is a node joining or leaving this node's view of the
// cluster (the nodes Members lists). A node joins when memberlist
// reports it alive (and, for a node not seen before, once it answered a
// ping); it leaves when it leaves or crashes. A member that comes back
// changed (new boot after a restart, new address or previous name)
// leaves as it was and joins as it is.
type MemberEvent struct {
	Member Member
	Leave  bool // false: a join
	// Graceful marks a leave the node announced (Tracker.Leave), as
	// opposed to a crash.
	Graceful bool
}

// Subscription delivers Diffs on C until Close. Delivery never blocks
// the tracker: while the reader is slow, pending changes of entries are
// coalesced per entry (a join then leave of the same entry cancel out;
// several leaves and joins keep the first leave and last join), so no
// change is lost, only merged. Membership changes are never coalesced:
// each one is delivered, in order with the entry changes around it. So
// memory is bounded by the number of entries times one plus the number
// of membership changes the reader is behind on.
type Subscription struct {
	// C receives the diffs; it is closed after Close (or the tracker's).
	C <-chan Diff

	c       chan Diff
	service string
	members bool
	t       *Tracker

	mu      sync.Mutex
	pending []segment
	kick    chan struct{}

	done     chan struct{}
	wg       sync.WaitGroup
	stopOnce sync.Once
}

type presKey struct{ Node, Key string }

// segment is a run of undelivered changes: one membership change, or
// the coalesced entry changes since the last one, per service.
type segment struct {
	member  *MemberEvent
	batches map[string]*batch
}

// batch is the coalesced, undelivered changes of one service.
type batch struct {
	leaves map[presKey]Presence
	joins  map[presKey]Presence
}

// Subscribe returns a subscription to the changes of service ("" for
// every service). Its first diffs carry the entries visible now as
// joins, so no change falls between a List and a Subscribe. On a closed
// tracker C is closed at once.
func (t *Tracker) Subscribe(service string) *Subscription {
	return t.subscribe(service, false)
}

// SubscribeMembers is Subscribe plus membership changes: a Diff with
// Member set for every node joining or leaving, ordered with the entry
// changes (a node's join comes before the joins of its entries, its
// leave after their leaves). Its first diffs carry the members listed
// now (this node included) as joins, then the entries.
func (t *Tracker) SubscribeMembers(service string) *Subscription {
	return t.subscribe(service, true)
}

func (t *Tracker) subscribe(service string, members bool) *Subscription {
	c := make(chan Diff, 16)
	s := &Subscription{
		C: c, c: c, service: service, members: members, t: t,
		kick: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
	s.wg.Add(1)
	go s.run()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		s.stop()
		return s
	}
	s.push(t.initialLocked(service, members))
	t.subs[s] = struct{}{}
	return s
}

// initialLocked lists as joins what a new subscription starts with.
func (t *Tracker) initialLocked(service string, members bool) []change {
	var out []change
	if members {
		for _, m := range t.membersLocked() {
			out = append(out, change{M: &MemberEvent{Member: m}})
		}
	}
	svcs := []string{service}
	if service == "" {
		svcs = t.v.services()
	}
	for _, svc := range svcs {
		for _, p := range t.v.list(svc) {
			out = append(out, change{P: p})
		}
	}
	return out
}

// Close ends the subscription and closes C. It is idempotent.
func (s *Subscription) Close() {
	s.t.mu.Lock()
	if s.t.subs != nil {
		delete(s.t.subs, s)
	}
	s.t.mu.Unlock()
	s.stop()
}

func (s *Subscription) stop() {
	s.stopOnce.Do(func() { close(s.done) })
	s.wg.Wait()
}

// push adds changes without blocking.
func (s *Subscription) push(ch []change) {
	s.mu.Lock()
	added := false
	for _, c := range ch {
		if c.M != nil {
			if s.members {
				s.pending = append(s.pending, segment{member: c.M})
				added = true
			}
			continue
		}
		if s.service != "" && c.P.Service != s.service {
			continue
		}
		s.batch(c.P.Service).add(c)
		added = true
	}
	s.mu.Unlock()
	if added {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

// batch returns the pending batch of svc after the last membership
// change, creating it.
func (s *Subscription) batch(svc string) *batch {
	if n := len(s.pending); n == 0 || s.pending[n-1].member != nil {
		s.pending = append(s.pending, segment{batches: make(map[string]*batch)})
	}
	seg := &s.pending[len(s.pending)-1]
	b := seg.batches[svc]
	if b == nil {
		b = &batch{leaves: map[presKey]Presence{}, joins: map[presKey]Presence{}}
		seg.batches[svc] = b
	}
	return b
}

// add coalesces an entry change into b.
func (b *batch) add(c change) {
	k := presKey{c.P.Node, c.P.Key}
	switch {
	case !c.Leave:
		b.joins[k] = c.P
	case hasKey(b.joins, k):
		delete(b.joins, k) // never delivered: cancels out
	case !hasKey(b.leaves, k):
		b.leaves[k] = c.P
	}
}

func hasKey(m map[presKey]Presence, k presKey) bool { _, ok := m[k]; return ok }

func (s *Subscription) run() {
	defer s.wg.Done()
	defer close(s.c)
	for {
		select {
		case <-s.done:
			return
		case <-s.kick:
		}
		s.mu.Lock()
		pending := s.pending
		s.pending = nil
		s.mu.Unlock()
		for _, d := range diffs(pending) {
			select {
			case s.c <- d:
			case <-s.done:
				return
			}
		}
	}
}

// diffs turns pending segments into Diffs, in order.
func diffs(pending []segment) []Diff {
	var out []Diff
	for _, seg := range pending {
		if seg.member != nil {
			out = append(out, Diff{Member: seg.member})
			continue
		}
		for _, svc := range sortedKeys(seg.batches) {
			if d, ok := seg.batches[svc].diff(svc); ok {
				out = append(out, d)
			}
		}
	}
	return out
}

// diff turns a batch into a Diff; ok is false if nothing is left.
func (b *batch) diff(svc string) (Diff, bool) {
	d := Diff{Service: svc, Leaves: sortedPresences(b.leaves), Joins: sortedPresences(b.joins)}
	for _, p := range d.Joins {
		if p.PrevNode != "" {
			if d.Renamed == nil {
				d.Renamed = make(map[string]string)
			}
			d.Renamed[p.PrevNode] = p.Node
		}
	}
	return d, len(d.Leaves)+len(d.Joins) > 0
}

func sortedPresences(m map[presKey]Presence) []Presence {
	if len(m) == 0 {
		return nil
	}
	return slices.SortedFunc(maps.Values(m), func(a, b Presence) int {
		return cmp.Or(cmp.Compare(a.Node, b.Node), cmp.Compare(a.Key, b.Key))
	})
}
