package tracker

import (
	"cmp"
	"maps"
	"slices"
	"sync"
)

// Diff is a batch of changes to one service, as seen by this node.
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
}

// Subscription delivers Diffs on C until Close. Delivery never blocks
// the tracker: while the reader is slow, pending changes are coalesced
// per entry (a join then leave of the same entry cancel out; several
// leaves and joins keep the first leave and last join), so memory is
// bounded by the number of entries and no change is lost, only merged.
type Subscription struct {
	// C receives the diffs; it is closed after Close (or the tracker's).
	C <-chan Diff

	c       chan Diff
	service string
	t       *Tracker

	mu      sync.Mutex
	pending map[string]*batch
	kick    chan struct{}

	done     chan struct{}
	wg       sync.WaitGroup
	stopOnce sync.Once
}

type presKey struct{ Node, Key string }

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
	c := make(chan Diff, 16)
	s := &Subscription{
		C: c, c: c, service: service, t: t,
		pending: make(map[string]*batch),
		kick:    make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	s.wg.Add(1)
	go s.run()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		s.stop()
		return s
	}
	var initial []change
	svcs := []string{service}
	if service == "" {
		svcs = t.v.services()
	}
	for _, svc := range svcs {
		for _, p := range t.v.list(svc) {
			initial = append(initial, change{P: p})
		}
	}
	s.push(initial)
	t.subs[s] = struct{}{}
	return s
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
		if s.service != "" && c.P.Service != s.service {
			continue
		}
		b := s.pending[c.P.Service]
		if b == nil {
			b = &batch{leaves: map[presKey]Presence{}, joins: map[presKey]Presence{}}
			s.pending[c.P.Service] = b
		}
		k := presKey{c.P.Node, c.P.Key}
		added = true
		switch {
		case !c.Leave:
			b.joins[k] = c.P
		case hasKey(b.joins, k):
			delete(b.joins, k) // never delivered: cancels out
		case !hasKey(b.leaves, k):
			b.leaves[k] = c.P
		}
	}
	s.mu.Unlock()
	if added {
		select {
		case s.kick <- struct{}{}:
		default:
		}
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
		s.pending = make(map[string]*batch)
		s.mu.Unlock()
		for _, svc := range sortedKeys(pending) {
			d, ok := pending[svc].diff(svc)
			if !ok {
				continue
			}
			select {
			case s.c <- d:
			case <-s.done:
				return
			}
		}
	}
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
