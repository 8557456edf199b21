package sdjoincmd

import (
	"cmp"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/ipfinder-go/ipfinder/tracker"
)

// hub is the agent's view of the cluster (the entries it has reported as
// joined and the live members) and the one place its events go out: every
// consumer (the stdout printer, each control-socket watch, later HTTP/SSE,
// DNS, metrics) registers a handler, and the agent core reports changes to
// the hub, which turns them into events and hands each to every handler
// that wants it, in order.
type hub struct {
	mu      sync.Mutex
	vis     visible
	members map[string]tracker.Member
	subs    map[*subscriber]struct{}
	// lost counts the events subscribers dropped (see dropped).
	lost atomic.Uint64
}

// dropped counts n events a subscriber dropped (a watch client or the
// stdout printer that fell behind).
func (h *hub) dropped(n int64) { h.lost.Add(uint64(n)) }

// serviceCounts returns how many entries of each service are visible.
func (h *hub) serviceCounts() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]int)
	for k := range h.vis {
		out[k.service]++
	}
	return out
}

// handler consumes the hub's events. handle is called with the hub's lock
// held, one event at a time in order, and must not block: queue and
// return.
type handler interface {
	handle(r record)
}

func newHub() *hub {
	return &hub{vis: make(visible), members: make(map[string]tracker.Member), subs: make(map[*subscriber]struct{})}
}

// register adds a handler of the events of service ("" for every event,
// member events included). The handler, made by mk, first gets the current
// state as join (and member-join) events, replay of them, then every
// change. unregister removes it.
func (h *hub) register(service string, mk func(replay int) handler) (unregister func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	replay := h.vis.snapshot(service)
	if service == "" {
		for _, name := range slices.Sorted(maps.Keys(h.members)) {
			r := memberRecord(h.members[name])
			r.Event = evMemberJoin
			replay = append(replay, r)
		}
	}
	s := &subscriber{service: service, h: mk(len(replay))}
	for _, r := range replay {
		if s.admit(r) {
			s.h.handle(r)
		}
	}
	h.subs[s] = struct{}{}
	return func() {
		h.mu.Lock()
		delete(h.subs, s)
		h.mu.Unlock()
	}
}

// applyDiff reports a diff of the current tracker: entry changes, or a
// membership change (the local node's is skipped; a join of a node
// already shown and a leave of one not shown are dropped, as a tracker
// replacing another reports the members again).
func (h *hub) applyDiff(d tracker.Diff) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if d.Member == nil {
		h.publishLocked(h.vis.apply(d))
		return
	}
	m := d.Member.Member
	_, shown := h.members[m.Name]
	switch {
	case m.Local:
	case d.Member.Leave && shown:
		delete(h.members, m.Name)
		h.publishLocked([]record{{Event: evMemberLeave, Node: m.Name, Addr: m.Addr}})
	case !d.Member.Leave && !shown:
		h.members[m.Name] = m
		r := memberRecord(m)
		r.Event = evMemberJoin
		h.publishLocked([]record{r})
	}
}

// reconcile reports as left the entries a new tracker does not show (now
// is every entry it shows).
func (h *hub) reconcile(now []tracker.Presence) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.publishLocked(h.vis.reconcile(now))
}

// dropNode reports as left every entry of node (this node's old name,
// after it left).
func (h *hub) dropNode(node string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var gone []record
	for k, p := range h.vis {
		if k.node == node {
			delete(h.vis, k)
			gone = append(gone, eventRecord(evLeave, p))
		}
	}
	sortRecords(gone)
	h.publishLocked(gone)
}

// dropAll reports every entry and member as left: an agent without a
// tracker sees nothing.
func (h *hub) dropAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.publishLocked(h.vis.reconcile(nil))
	var gone []record
	for _, name := range slices.Sorted(maps.Keys(h.members)) {
		gone = append(gone, record{Event: evMemberLeave, Node: name, Addr: h.members[name].Addr})
	}
	clear(h.members)
	h.publishLocked(gone)
}

// resyncMembers reports the nodes that joined or left as members lists
// them (the local one is skipped), after a tracker replaced another: the
// new one never reports the old one's members it does not know. members
// is called with the hub's lock held, so no membership event of the
// tracker falls between its answer and the hub's state.
func (h *hub) resyncMembers(members func() []tracker.Member) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ms := members()
	now := make(map[string]tracker.Member, len(ms))
	var events []record
	for _, m := range ms {
		if m.Local {
			continue
		}
		now[m.Name] = m
		if _, ok := h.members[m.Name]; !ok {
			r := memberRecord(m)
			r.Event = evMemberJoin
			events = append(events, r)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(h.members)) {
		if _, ok := now[name]; !ok {
			events = append(events, record{Event: evMemberLeave, Node: name, Addr: h.members[name].Addr})
		}
	}
	h.members = now
	h.publishLocked(events)
}

// publishLocked hands events to every subscriber that wants them. h.mu
// is held.
func (h *hub) publishLocked(events []record) {
	for _, r := range events {
		for s := range h.subs {
			if s.admit(r) {
				s.h.handle(r)
			}
		}
	}
}

// subscriber is one registered handler with its filter. Its fields are
// guarded by hub.mu.
type subscriber struct {
	service string
	renames map[string]string // old -> new already shown
	h       handler
}

// admit reports whether the subscriber wants r, and shows each rename
// once.
func (s *subscriber) admit(r record) bool {
	if s.service != "" && r.Service != s.service {
		return false
	}
	if r.Event == evRename {
		if s.renames[r.PrevNode] == r.Node {
			return false
		}
		if s.renames == nil {
			s.renames = make(map[string]string)
		}
		s.renames[r.PrevNode] = r.Node
	}
	return true
}

// visKey identifies one visible entry.
type visKey struct{ service, node, key string }

// visible is the set of entries the agent has reported as joined. It
// turns the diffs of successive trackers (see agent.reidentify) into one
// consistent stream: a join already reported is not repeated, a leave of
// an entry never reported is dropped.
type visible map[visKey]tracker.Presence

// apply records d and returns its events: leaves, then a rename per
// renamed node, then joins.
func (v visible) apply(d tracker.Diff) []record {
	var out []record
	for _, p := range d.Leaves {
		k := visKey{p.Service, p.Node, p.Key}
		if _, ok := v[k]; !ok {
			continue
		}
		delete(v, k)
		out = append(out, eventRecord(evLeave, p))
	}
	renamed := map[string]bool{}
	for _, p := range d.Joins {
		k := visKey{p.Service, p.Node, p.Key}
		if old, ok := v[k]; ok && old.Ref == p.Ref {
			continue
		}
		if p.PrevNode != "" && !renamed[p.PrevNode] {
			renamed[p.PrevNode] = true
			out = append(out, record{Event: evRename, Service: p.Service, Node: p.Node, PrevNode: p.PrevNode})
		}
		v[k] = p
		out = append(out, eventRecord(evJoin, p))
	}
	return out
}

// reconcile reports as left the entries missing from now (every entry a
// tracker shows), after a tracker was replaced.
func (v visible) reconcile(now []tracker.Presence) []record {
	seen := make(map[visKey]bool, len(now))
	for _, p := range now {
		seen[visKey{p.Service, p.Node, p.Key}] = true
	}
	var out []record
	for k, p := range v {
		if !seen[k] {
			delete(v, k)
			out = append(out, eventRecord(evLeave, p))
		}
	}
	sortRecords(out)
	return out
}

// snapshot returns the entries of service ("" for all) as join events,
// sorted.
func (v visible) snapshot(service string) []record {
	var out []record
	for k, p := range v {
		if service == "" || k.service == service {
			out = append(out, eventRecord(evJoin, p))
		}
	}
	sortRecords(out)
	return out
}

// sortRecords sorts by service, node and key.
func sortRecords(rs []record) {
	slices.SortFunc(rs, func(a, b record) int {
		return cmp.Or(cmp.Compare(a.Service, b.Service), cmp.Compare(a.Node, b.Node), cmp.Compare(a.Key, b.Key))
	})
}
