package tracker

import (
	"cmp"
	"maps"
	"net/netip"
	"slices"
	"time"
)

// stamp orders the copies of one writer's record, and its changes: a
// larger boot is newer, and within a boot a larger version.
type stamp struct{ Boot, Version uint64 }

// Compare returns -1, 0 or +1 as s is older than, the same as or newer
// than o.
func (s stamp) Compare(o stamp) int {
	if c := cmp.Compare(s.Boot, o.Boot); c != 0 {
		return c
	}
	return cmp.Compare(s.Version, o.Version)
}

func (r *nodeRec) stamp() stamp    { return stamp{r.Boot, r.Version} }
func (d *delta) stamp() stamp      { return stamp{d.Boot, d.Version} }
func (r *record) stamp() stamp     { return stamp{r.Boot, r.Version} }
func (it digestItem) stamp() stamp { return stamp{it.Boot, it.Version} }

// change is one presence appearing (join) or disappearing (leave), or,
// with M set, a membership change.
type change struct {
	Leave bool
	P     Presence
	M     *MemberEvent
}

// memberChange is the change of node m joining or leaving the view.
func memberChange(node string, m *member, leave, graceful bool) change {
	e := &MemberEvent{
		Member:   Member{Name: node, Addr: m.Addr, PrevName: m.PrevName, Boot: m.Boot},
		Leave:    leave,
		Graceful: leave && graceful,
	}
	return change{Leave: leave, M: e}
}

// member is what the view knows of a memberlist node.
type member struct {
	Addr     netip.AddrPort
	Boot     uint64
	PrevName string
	Alive    bool
	Left     bool      // went down gracefully
	Since    time.Time // when it went down, if !Alive
}

// nodeRec is the latest known record of one writer.
type nodeRec struct {
	Boot        uint64
	Version     uint64
	svcs        map[string]map[string]*entry // service -> key -> entry
	n           int                          // number of entries
	hiddenSince time.Time                    // when first seen hidden with no down time to go by
	enc         []byte                       // wire encoding, until the record changes (see encoded)
}

// tomb remembers a writer that left gracefully, so stale copies of its
// record still travelling through the cluster are not shown again.
type tomb struct {
	Boot uint64
	At   time.Time
}

// verdict is what applyDelta made of a delta.
type verdict int

const (
	deltaStale   verdict = iota // already known or superseded: ignore
	deltaApplied                // applied in order
	deltaGap                    // a version is missing: sync the writer's record
)

// view is the pure state machine behind a Tracker: the records of every
// writer, memberlist's view of the nodes, and the visibility rules. It
// does no I/O and holds no locks; every mutation returns the presence
// changes it causes, in order.
type view struct {
	self     string
	selfAddr netip.AddrPort
	nodes    map[string]*nodeRec
	members  map[string]*member
	tombs    map[string]tomb
	seen     map[string]digestItem // highest delta seen per writer (for re-gossip)
	pending  map[string][]delta    // deltas that arrived ahead of a gap
	early    map[string]earlyRec   // records of writers not members yet (see holdEarly)
}

// earlyRec is a record that arrived before its writer was a member.
type earlyRec struct {
	rec record
	at  time.Time
}

// maxEarly bounds the records held for writers that are not members yet.
const maxEarly = 1024

// maxPending bounds the deltas held per writer while waiting for a gap
// to fill; past it the sync alone catches up.
const maxPending = 256

func newView(self string, addr netip.AddrPort, boot uint64) *view {
	v := &view{
		self:     self,
		selfAddr: addr,
		nodes:    make(map[string]*nodeRec),
		members:  make(map[string]*member),
		tombs:    make(map[string]tomb),
		seen:     make(map[string]digestItem),
		pending:  make(map[string][]delta),
		early:    make(map[string]earlyRec),
	}
	v.nodes[self] = &nodeRec{Boot: boot, svcs: make(map[string]map[string]*entry)}
	return v
}

// visible reports whether the entries of node are shown: our own always,
// others' while memberlist says the node is alive with the record's boot.
func (v *view) visible(node string) bool {
	if node == v.self {
		return true
	}
	r, m := v.nodes[node], v.members[node]
	return r != nil && m != nil && m.Alive && m.Boot == r.Boot
}

func (v *view) presence(node string, boot uint64, e *entry) Presence {
	p := Presence{
		Service: e.Service,
		Key:     e.Key,
		Node:    node,
		Meta:    e.Meta,
		Ref:     Ref{Node: node, Boot: boot, Version: e.Version},
		Local:   node == v.self,
	}
	if node == v.self {
		p.Addr = v.selfAddr
	} else if m := v.members[node]; m != nil {
		p.Addr = m.Addr
		p.PrevNode = m.PrevName
	}
	return p
}

// all appends a change for every entry of node.
func (v *view) all(out []change, node string, leave bool) []change {
	r := v.nodes[node]
	if r == nil {
		return out
	}
	for _, s := range sortedKeys(r.svcs) {
		for _, k := range sortedKeys(r.svcs[s]) {
			out = append(out, change{Leave: leave, P: v.presence(node, r.Boot, r.svcs[s][k])})
		}
	}
	return out
}

// drop removes node's record, with leaves if it was shown.
func (v *view) drop(out []change, node string) []change {
	if v.visible(node) {
		out = v.all(out, node, true)
	}
	delete(v.nodes, node)
	return out
}

// memberUp handles memberlist reporting node alive (join or update). It
// returns the changes and whether the node's record must be fetched.
func (v *view) memberUp(node string, addr netip.AddrPort, meta nodeMeta) ([]change, bool) {
	if node == v.self {
		return nil, false
	}
	var out []change
	if p := meta.PrevName; p != "" && p != node && p != v.self {
		// Renamed: the previous name's entries are gone for good.
		if r := v.nodes[p]; r != nil {
			out = v.drop(out, p)
		}
		if pm := v.members[p]; pm != nil && pm.Alive {
			out = append(out, memberChange(p, pm, true, true))
		}
		delete(v.members, p)
	}
	was := v.visible(node)
	r, m := v.nodes[node], v.members[node]
	cameBack := m == nil || !m.Alive
	if was && (r.Boot < meta.Boot || m.Addr != addr || m.PrevName != meta.PrevName) {
		out = v.all(out, node, true)
		was = false
	}
	changed := !cameBack && (m.Boot != meta.Boot || m.Addr != addr || m.PrevName != meta.PrevName)
	if changed { // the old member leaves, the new one joins
		out = append(out, memberChange(node, m, true, false))
	}
	if r != nil && r.Boot < meta.Boot { // restarted: old entries are obsolete
		delete(v.nodes, node)
		r = nil
	}
	if t, ok := v.tombs[node]; ok && meta.Boot > t.Boot {
		delete(v.tombs, node)
	}
	v.members[node] = &member{Addr: addr, Boot: meta.Boot, PrevName: meta.PrevName, Alive: true}
	if cameBack || changed {
		out = append(out, memberChange(node, v.members[node], false, false))
	}
	if !was && v.visible(node) {
		out = v.all(out, node, false)
	}
	// Sync when the record is missing or from another boot, and when the
	// node comes back (it may have changed while we could not hear it).
	return out, r == nil || r.Boot != meta.Boot || cameBack
}

// memberDown handles memberlist reporting node dead (crash: hide, keep)
// or left (graceful: drop at once and remember the boot).
func (v *view) memberDown(node string, left bool, now time.Time) []change {
	if node == v.self {
		return nil
	}
	m := v.members[node]
	if m == nil {
		m = &member{}
		v.members[node] = m
	}
	if t, ok := v.tombs[node]; ok && t.Boot >= m.Boot {
		left = true // announced by a leave message
	}
	var out []change
	if v.visible(node) {
		out = v.all(out, node, true)
	}
	wasAlive := m.Alive
	if m.Alive || m.Since.IsZero() {
		m.Since = now
	}
	m.Alive, m.Left = false, left
	if left {
		boot := m.Boot
		if r := v.nodes[node]; r != nil && r.Boot > boot {
			boot = r.Boot
		}
		out = v.forget(out, node, boot, now)
	}
	if wasAlive {
		out = append(out, memberChange(node, m, true, left))
	}
	return out
}

// leave handles a writer's own announcement that it leaves.
func (v *view) leave(node string, boot uint64, now time.Time) []change {
	if !v.fromMember(node, boot) {
		return nil
	}
	if r := v.nodes[node]; r != nil && r.Boot > boot {
		return nil
	}
	out := v.forget(nil, node, boot, now)
	if m := v.members[node]; m != nil && m.Boot == boot {
		if m.Alive {
			m.Since = now
			out = append(out, memberChange(node, m, true, true))
		}
		m.Alive, m.Left = false, true
	}
	return out
}

// forget drops node's record (leaves if shown) and tombstones boot.
func (v *view) forget(out []change, node string, boot uint64, now time.Time) []change {
	if r := v.nodes[node]; r != nil && v.visible(node) {
		out = v.all(out, node, true)
	}
	delete(v.nodes, node)
	delete(v.seen, node)
	delete(v.pending, node)
	if t, ok := v.tombs[node]; !ok || t.Boot < boot {
		v.tombs[node] = tomb{Boot: boot, At: now}
	}
	return out
}

// blocked reports whether a record or delta of node at boot must be
// ignored: ours, left gracefully, or older than the boot memberlist knows.
func (v *view) blocked(node string, boot uint64) bool {
	if node == v.self {
		return true
	}
	if t, ok := v.tombs[node]; ok && t.Boot >= boot {
		return true
	}
	if m := v.members[node]; m != nil && m.Boot > boot {
		return true
	}
	return false
}

// fromMember reports whether a message of writer node at boot agrees
// with memberlist's view: node is a member (alive, or down and kept)
// whose node meta carries that boot, and it has not left. Anything else
// (writers that never joined, forged boots) is dropped without keeping
// state: a real writer's record is fetched when memberlist reports it.
func (v *view) fromMember(node string, boot uint64) bool {
	m := v.members[node]
	return m != nil && m.Boot == boot && !v.blocked(node, boot)
}

// observe records that a delta was seen and reports whether it is new
// (and so worth gossiping on).
func (v *view) observe(d *delta) bool {
	if s, ok := v.seen[d.Node]; ok && s.stamp().Compare(d.stamp()) >= 0 {
		return false
	}
	v.seen[d.Node] = digestItem{Node: d.Node, Boot: d.Boot, Version: d.Version}
	return true
}

// classify decides what to do with a delta given the writer's record.
func classify(r *nodeRec, d *delta) verdict {
	switch {
	case r == nil || r.Boot < d.Boot:
		if d.Version == 1 && d.Op != opNotice {
			return deltaApplied
		}
		return deltaGap
	case d.stamp().Compare(r.stamp()) <= 0:
		return deltaStale
	case d.Version == r.Version+1 && d.Op != opNotice:
		return deltaApplied
	default:
		return deltaGap
	}
}

// applyDelta applies a gossiped change of another writer. A delta ahead
// of a gap is held and applied once the gap fills (gossip reorders
// messages: memberlist sends the newest first).
func (v *view) applyDelta(d *delta, now time.Time) ([]change, verdict) {
	if !v.fromMember(d.Node, d.Boot) {
		return nil, deltaStale
	}
	vd := classify(v.nodes[d.Node], d)
	switch vd {
	case deltaGap:
		v.hold(d)
		return nil, vd
	case deltaStale:
		return nil, vd
	}
	out := v.apply(nil, d, now)
	return v.drain(out, d.Node, now), deltaApplied
}

// apply applies an in-order delta.
func (v *view) apply(out []change, d *delta, now time.Time) []change {
	r := v.nodes[d.Node]
	if r == nil || r.Boot < d.Boot {
		out = v.drop(out, d.Node)
		r = &nodeRec{Boot: d.Boot, svcs: make(map[string]map[string]*entry), hiddenSince: now}
		v.nodes[d.Node] = r
	}
	r.Version = d.Version
	return v.write(out, d.Node, d.Op, d.Service, d.Key, d.Meta, d.Version)
}

// hold keeps a delta that arrived ahead of a gap.
func (v *view) hold(d *delta) {
	p := v.pending[d.Node]
	if d.Op == opNotice || len(p) >= maxPending {
		return
	}
	for _, x := range p {
		if x.stamp() == d.stamp() {
			return
		}
	}
	v.pending[d.Node] = append(p, *d)
}

// drain applies held deltas of node that are now in order and forgets
// the obsolete ones.
func (v *view) drain(out []change, node string, now time.Time) []change {
	for {
		p, r := v.pending[node], v.nodes[node]
		keep, next := p[:0], -1
		for _, x := range p {
			if r != nil && x.stamp().Compare(r.stamp()) <= 0 {
				continue
			}
			if next < 0 && classify(r, &x) == deltaApplied {
				next = len(keep)
			}
			keep = append(keep, x)
		}
		if len(keep) == 0 {
			delete(v.pending, node)
			return out
		}
		v.pending[node] = keep
		if next < 0 {
			return out
		}
		d := keep[next]
		v.pending[node] = append(keep[:next:next], keep[next+1:]...)
		out = v.apply(out, &d, now)
	}
}

// write puts or deletes one entry of node's record, returning changes.
func (v *view) write(out []change, node string, op byte, svc, key string, meta map[string]string, ver uint64) []change {
	r := v.nodes[node]
	r.enc = nil
	shown := v.visible(node)
	old := r.svcs[svc][key]
	if old != nil {
		if shown {
			out = append(out, change{Leave: true, P: v.presence(node, r.Boot, old)})
		}
		delete(r.svcs[svc], key)
		if len(r.svcs[svc]) == 0 {
			delete(r.svcs, svc)
		}
		r.n--
	}
	if op != opPut {
		return out
	}
	e := &entry{Service: svc, Key: key, Meta: meta, Version: ver}
	if r.svcs[svc] == nil {
		r.svcs[svc] = make(map[string]*entry)
	}
	r.svcs[svc][key] = e
	r.n++
	if shown {
		out = append(out, change{P: v.presence(node, r.Boot, e)})
	}
	return out
}

// local applies a change of our own record and returns the delta to
// gossip with the changes. The caller checked the arguments.
func (v *view) local(op byte, svc, key string, meta map[string]string) (delta, []change) {
	r := v.nodes[v.self]
	r.Version++
	out := v.write(nil, v.self, op, svc, key, meta, r.Version)
	return delta{Node: v.self, Boot: r.Boot, Version: r.Version, Op: op, Service: svc, Key: key, Meta: meta}, out
}

// replaces reports whether record in replaces old: when it is newer, or
// when it is the writer's own record (sent by the writer itself) at the
// same boot and another version. A version above the writer's own was
// forged (the boot is no secret): without this, one spoofed record with a
// huge version would make the writer's changes stale until it restarts.
func replaces(old *nodeRec, in *record, own bool) bool {
	c := old.stamp().Compare(in.stamp())
	return c < 0 || own && c > 0 && old.Boot == in.Boot
}

// holds reports whether mergeRecord would ignore a record of node at s
// (sent by the writer itself if own): the writer is a member and the
// record held is not replaced by it.
func (v *view) holds(node string, s stamp, own bool) bool {
	old := v.nodes[node]
	return old != nil && v.fromMember(node, s.Boot) && !replaces(old, &record{Boot: s.Boot, Version: s.Version}, own)
}

// mergeRecord replaces a writer's record by a newer copy, or by the
// writer's own (see replaces).
func (v *view) mergeRecord(in *record, own bool, now time.Time) []change {
	if !v.fromMember(in.Node, in.Boot) {
		v.holdEarly(in, now)
		return nil
	}
	old := v.nodes[in.Node]
	if old != nil && !replaces(old, in, own) {
		return nil
	}
	r := &nodeRec{Boot: in.Boot, Version: in.Version, svcs: make(map[string]map[string]*entry)}
	for i := range in.Entries {
		e := in.Entries[i]
		if r.svcs[e.Service] == nil {
			r.svcs[e.Service] = make(map[string]*entry)
		}
		if r.svcs[e.Service][e.Key] == nil {
			r.n++
		}
		r.svcs[e.Service][e.Key] = &e
	}
	if old != nil {
		r.hiddenSince = old.hiddenSince
	}
	if r.hiddenSince.IsZero() {
		r.hiddenSince = now
	}
	if s := v.seen[in.Node]; own || s.stamp().Compare(in.stamp()) < 0 {
		v.seen[in.Node] = digestItem{Node: in.Node, Boot: in.Boot, Version: in.Version}
	}
	var out []change
	wasShown := old != nil && v.visible(in.Node)
	before := map[entryID]*entry{}
	if wasShown {
		eachEntry(old, func(e *entry) { before[entryID{e.Service, e.Key}] = e })
	}
	v.nodes[in.Node] = r
	after := map[entryID]*entry{}
	if v.visible(in.Node) {
		eachEntry(r, func(e *entry) { after[entryID{e.Service, e.Key}] = e })
	}
	for _, id := range sortedIDs(before) {
		if a := after[id]; a == nil || a.Version != before[id].Version || old.Boot != r.Boot {
			out = append(out, change{Leave: true, P: v.presence(in.Node, old.Boot, before[id])})
		}
	}
	for _, id := range sortedIDs(after) {
		if b := before[id]; b == nil || b.Version != after[id].Version || old.Boot != r.Boot {
			out = append(out, change{P: v.presence(in.Node, r.Boot, after[id])})
		}
	}
	return v.drain(out, in.Node, now)
}

// behind lists the writers for which a digest holds a newer version
// than we do.
func (v *view) behind(dig []digestItem) []string {
	var out []string
	for _, it := range dig {
		if !v.fromMember(it.Node, it.Boot) {
			continue
		}
		r := v.nodes[it.Node]
		if r == nil || r.stamp().Compare(it.stamp()) < 0 {
			out = append(out, it.Node)
		}
	}
	return out
}

// record returns a copy of node's record for the wire.
func (v *view) record(node string) (record, bool) {
	r := v.nodes[node]
	if r == nil {
		return record{}, false
	}
	out := record{Node: node, Boot: r.Boot, Version: r.Version, Entries: make([]entry, 0, r.n)}
	eachEntry(r, func(e *entry) { out.Entries = append(out.Entries, *e) })
	return out, true
}

// encoded returns the wire encoding of node's record (encodeRecord),
// kept until the record changes: push/pulls and sync answers send the
// same records again and again.
func (v *view) encoded(node string) ([]byte, bool) {
	r := v.nodes[node]
	if r == nil {
		return nil, false
	}
	if r.enc == nil {
		rec, _ := v.record(node)
		r.enc = encodeRecord(&rec)
	}
	return r.enc, true
}

// digest lists the version of every record held.
func (v *view) digest() []digestItem {
	out := make([]digestItem, 0, len(v.nodes))
	for _, n := range sortedKeys(v.nodes) {
		r := v.nodes[n]
		out = append(out, digestItem{Node: n, Boot: r.Boot, Version: r.Version})
	}
	return out
}

// holdEarly keeps the record of a writer that is not a member (at that
// boot) yet: a join's push/pull and sync answers list records of nodes
// the joiner does not know yet, while
// the admission gate admits the writers one by one. When the writer
// becomes a member its entries are there at once (see adoptEarly),
// without a sync request to each. At most maxEarly are held (a random
// one makes room); purge drops those older than permdown.
func (v *view) holdEarly(in *record, now time.Time) {
	if in.Node == v.self || v.blocked(in.Node, in.Boot) {
		return
	}
	if m := v.members[in.Node]; m != nil && m.Boot >= in.Boot {
		return // from an old boot, or a member's record it does not own
	}
	if e, ok := v.early[in.Node]; ok && e.rec.stamp().Compare(in.stamp()) >= 0 {
		return
	}
	for n := range v.early {
		if len(v.early) < maxEarly {
			break
		}
		delete(v.early, n)
	}
	v.early[in.Node] = earlyRec{rec: *in, at: now}
}

// adoptEarly merges the record held for node at boot, now a member, and
// reports whether there was one.
func (v *view) adoptEarly(node string, boot uint64, now time.Time) ([]change, bool) {
	e, ok := v.early[node]
	if !ok || e.rec.Boot != boot {
		return nil, false
	}
	delete(v.early, node)
	return v.mergeRecord(&e.rec, false, now), true
}

// purge forgets what has been down for longer than permdown: records of
// dead or unknown nodes, dead members, and tombstones.
func (v *view) purge(now time.Time, permdown time.Duration) {
	for n, r := range v.nodes {
		if v.visible(n) {
			r.hiddenSince = time.Time{}
			continue
		}
		since := r.hiddenSince
		if m := v.members[n]; m != nil && !m.Alive && (since.IsZero() || m.Since.Before(since)) {
			since = m.Since
		}
		if since.IsZero() {
			r.hiddenSince = now
			continue
		}
		if now.Sub(since) >= permdown {
			delete(v.nodes, n)
			delete(v.seen, n)
			delete(v.pending, n)
		}
	}
	for n, m := range v.members {
		if !m.Alive && now.Sub(m.Since) >= permdown {
			delete(v.members, n)
		}
	}
	for n, e := range v.early {
		if now.Sub(e.at) >= permdown {
			delete(v.early, n)
		}
	}
	// Deltas of writers that are neither members nor holders of a record
	// (never joined, or forged) must not pile up. A real writer that
	// joins later is synced in full anyway.
	for n := range v.seen {
		if v.nodes[n] == nil && v.members[n] == nil {
			delete(v.seen, n)
		}
	}
	for n := range v.pending {
		if v.nodes[n] == nil && v.members[n] == nil {
			delete(v.pending, n)
		}
	}
	for n, t := range v.tombs {
		if now.Sub(t.At) >= permdown {
			delete(v.tombs, n)
		}
	}
}

// crashed returns the addresses of members that went down without
// leaving, for reconnection attempts.
func (v *view) crashed() []netip.AddrPort {
	var out []netip.AddrPort
	for _, n := range sortedKeys(v.members) {
		if m := v.members[n]; !m.Alive && !m.Left && m.Addr.IsValid() {
			out = append(out, m.Addr)
		}
	}
	return out
}

// list returns the shown entries of one service, sorted by node and key.
func (v *view) list(svc string) []Presence {
	out := v.listShared(svc)
	for i := range out {
		out[i].Meta = maps.Clone(out[i].Meta)
	}
	return out
}

// listShared is list with each entry's Meta the view's own map: read it
// only under the lock that guards v, never change it.
func (v *view) listShared(svc string) []Presence {
	var names []string // sorted below: usually few of all nodes provide svc
	for n, r := range v.nodes {
		if len(r.svcs[svc]) > 0 && v.visible(n) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	total := 0
	for _, n := range names {
		total += len(v.nodes[n].svcs[svc])
	}
	if total == 0 {
		return nil
	}
	out := make([]Presence, 0, total)
	for _, n := range names {
		es := v.nodes[n].svcs[svc]
		for _, k := range sortedKeys(es) {
			out = append(out, v.presence(n, v.nodes[n].Boot, es[k]))
		}
	}
	return out
}

// services returns the names of services with at least one shown entry.
func (v *view) services() []string {
	set := map[string]bool{}
	for n, r := range v.nodes {
		if v.visible(n) {
			for s := range r.svcs {
				set[s] = true
			}
		}
	}
	return sortedKeys(set)
}

type entryID struct{ Service, Key string }

func eachEntry(r *nodeRec, fn func(*entry)) {
	for _, es := range r.svcs {
		for _, e := range es {
			fn(e)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

func sortedIDs(m map[entryID]*entry) []entryID {
	return slices.SortedFunc(maps.Keys(m), func(a, b entryID) int {
		return cmp.Or(cmp.Compare(a.Service, b.Service), cmp.Compare(a.Key, b.Key))
	})
}
