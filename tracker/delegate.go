package tracker

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/hashicorp/memberlist"
)

// delegate receives memberlist's callbacks. Each one takes t.mu briefly,
// updates the view and hands changes to subscribers without blocking;
// network I/O it needs (syncs) goes to the syncer goroutine.
type delegate struct{ t *Tracker }

var (
	_ memberlist.Delegate      = (*delegate)(nil)
	_ memberlist.EventDelegate = (*delegate)(nil)
)

func (d *delegate) NodeMeta(limit int) []byte { return d.t.meta }

func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.t.queue.GetBroadcasts(overhead, limit)
}

// NotifyMsg hands the message to the tracker's inbox without blocking:
// memberlist handles alive/dead messages on the same goroutine and drops
// them when its handoff queue fills. A message dropped here is
// recovered by the gap and sync machinery.
//
// A leave is handled here, at once: a writer sends it just before
// memberlist's own leave notice, which reaches NotifyLeave on this
// goroutine, and the leave must be applied first for the member to be
// reported as gone gracefully. It is small and cheap (no I/O).
//
// Gossiped messages (deltas, leaves) over maxDeltaBytes are never sent
// by a tracker and are dropped before being copied; the inbox holds at
// most maxInboxBytes.
func (d *delegate) NotifyMsg(b []byte) {
	t := d.t
	if unwanted(b) {
		t.stats.dropped.Add(1)
		return
	}
	if b[0] == kindLeave {
		t.handleMsg(append([]byte(nil), b...)) // re-gossiped: a copy
		return
	}
	if t.inboxBytes.Add(int64(len(b))) > maxInboxBytes {
		t.inboxBytes.Add(-int64(len(b)))
		t.stats.dropped.Add(1)
		t.log.Debug("tracker: inbox over its byte budget, dropping message", "kind", b[0])
		return
	}
	select {
	case t.inbox <- append([]byte(nil), b...):
	default:
		t.inboxBytes.Add(-int64(len(b)))
		t.stats.dropped.Add(1)
		t.log.Debug("tracker: inbox full, dropping message", "kind", b[0])
	}
}

// unwanted reports an empty message, or a gossiped one (delta, leave)
// bigger than a tracker ever gossips.
func unwanted(b []byte) bool {
	return len(b) == 0 || (b[0] == kindDelta || b[0] == kindLeave) && len(b) > maxDeltaBytes
}

// inboxLoop handles the messages NotifyMsg received, in order.
func (t *Tracker) inboxLoop() {
	defer t.wg.Done()
	for {
		select {
		case <-t.done:
			return
		case b := <-t.inbox:
			t.handleMsg(b)
			t.inboxBytes.Add(-int64(len(b)))
		}
	}
}

// handleMsg handles one message from a peer. Nothing it receives is
// trusted: messages over the limits are dropped, and state is kept only
// for writers memberlist shows as members with the message's boot.
func (t *Tracker) handleMsg(b []byte) {
	var err error
	if unwanted(b) {
		return
	}
	switch b[0] {
	case kindDelta:
		err = t.handleDelta(b)
	case kindLeave:
		err = t.handleLeave(b)
	case kindSyncReq:
		var req syncReq
		if req, err = decodeSyncReq(b); err == nil && t.isMember(req.From) {
			t.gate.knows(req.From)
			t.syncs.reply(req.From, req.Nodes)
		}
	case kindSyncResp:
		var rs []record
		if rs, err = decodeSyncResp(b); err == nil {
			t.mergeRecords("", rs)
		}
	default:
		err = fmt.Errorf("tracker: unknown message kind %d", b[0])
	}
	if err != nil {
		t.log.Debug("tracker: bad message", "err", err)
	}
}

// handleDelta applies a gossiped change and passes it on if it is new.
func (t *Tracker) handleDelta(b []byte) error {
	m, err := decodeDelta(b)
	if err != nil {
		return err
	}
	t.withView(func(now time.Time) []change {
		if !t.v.fromMember(m.Node, m.Boot) {
			t.stats.dropped.Add(1)
			return nil
		}
		if t.v.observe(&m) {
			t.enqueue(b)
			t.push(b)
		}
		ch, vd := t.v.applyDelta(&m, now)
		if vd == deltaGap {
			t.syncs.want(m.Node, m.Node, m.Boot, m.Version, gapWait)
		}
		return ch
	})
	return nil
}

// withView runs fn with t.mu held, unless the tracker is closed, and
// hands the changes fn returns to the subscribers, in order.
func (t *Tracker) withView(fn func(now time.Time) []change) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.closed {
		t.publishLocked(fn(now))
	}
}

// handleLeave drops a writer that announced its leave and passes the
// news on.
func (t *Tracker) handleLeave(b []byte) error {
	m, err := decodeLeave(b)
	if err != nil {
		return err
	}
	t.withView(func(now time.Time) []change {
		if !t.v.fromMember(m.Node, m.Boot) {
			t.stats.dropped.Add(1)
			return nil
		}
		t.enqueue(b)
		return t.v.leave(m.Node, m.Boot, now)
	})
	return nil
}

// mergeRecords merges records received from peer ("" when unknown): a
// record of the peer itself is the writer's own word on its version.
func (t *Tracker) mergeRecords(peer string, rs []record) {
	t.withView(func(now time.Time) []change {
		var ch []change
		for i := range rs {
			ch = append(ch, t.v.mergeRecord(&rs[i], peer != "" && rs[i].Node == peer, now)...)
		}
		return ch
	})
}

// joinStateBytes bounds the other writers' records a join's push/pull
// carries (about; our own record always goes). A joiner gets the rest by
// sync requests for what the digest shows it lacks. Without the bound,
// every greeting and reconnect push/pull, which memberlist runs as joins,
// sent every record both ways: 100 nodes of 100 entries each spent most
// of their CPU encoding and decoding megabytes they already held.
const joinStateBytes = 16 << 10

// LocalState is our push/pull state: our own record, a digest of every
// record held and, on a join, other records up to joinStateBytes.
func (d *delegate) LocalState(join bool) []byte {
	t := d.t
	t.mu.Lock()
	defer t.mu.Unlock()
	s := pushState{From: t.name, Digest: t.v.digest()}
	if r, ok := t.v.encoded(t.name); ok {
		s.Raw = [][]byte{r}
	}
	if join {
		size := 0
		for _, it := range s.Digest {
			r, ok := t.v.encoded(it.Node)
			if !ok || it.Node == t.name {
				continue
			}
			if size += len(r); size > joinStateBytes {
				break
			}
			s.Raw = append(s.Raw, r)
		}
	}
	return encodeState(&s)
}

func (d *delegate) MergeRemoteState(b []byte, join bool) {
	t := d.t
	s, err := decodeState(b, func(from, node string, st stamp) bool {
		t.mu.Lock()
		defer t.mu.Unlock()
		return t.v.holds(node, st, node == from)
	})
	if err != nil {
		t.log.Debug("tracker: bad push/pull state", "err", err)
		return
	}
	t.stats.pushPulls.Add(1)
	t.gate.knows(s.From)
	t.mergeRecords(s.From, s.Records)
	t.withView(func(time.Time) []change {
		for _, n := range t.v.behind(s.Digest) {
			for _, it := range s.Digest {
				if it.Node == n {
					t.syncs.want(n, s.From, it.Boot, it.Version, 0)
				}
			}
		}
		return nil
	})
}

// isMember reports whether node is a live member.
func (t *Tracker) isMember(node string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.v.members[node]
	return m != nil && m.Alive
}

// NotifyJoin and NotifyUpdate tell the view, unless the node is on
// probation (not verified yet: see gate).
func (d *delegate) NotifyJoin(n *memberlist.Node) {
	if !d.t.gate.hold(n) {
		d.t.memberUp(n)
	}
}

func (d *delegate) NotifyUpdate(n *memberlist.Node) { d.NotifyJoin(n) }

func (d *delegate) NotifyLeave(n *memberlist.Node) {
	t := d.t
	if n.Name == t.name || t.gate.release(n.Name) {
		return
	}
	t.withView(func(now time.Time) []change {
		defer t.countAliveLocked()
		return t.v.memberDown(n.Name, n.State == memberlist.StateLeft, now)
	})
	select { // crashed: reconnect (see purgeLoop)
	case t.downs <- struct{}{}:
	default:
	}
}

func (t *Tracker) memberUp(n *memberlist.Node) {
	if n.Name == t.name {
		return
	}
	meta, err := decodeNodeMeta(n.Meta)
	if err != nil {
		t.log.Debug("tracker: node without tracker meta", "node", n.Name, "err", err)
	}
	var addr netip.AddrPort
	if a, ok := netip.AddrFromSlice(n.Addr); ok {
		addr = netip.AddrPortFrom(a.Unmap(), n.Port)
	}
	t.withView(func(now time.Time) []change {
		defer t.countAliveLocked()
		ch, need := t.v.memberUp(n.Name, addr, meta)
		if early, ok := t.v.adoptEarly(n.Name, meta.Boot, now); ok {
			ch, need = append(ch, early...), false // notices and digests catch up if it was stale
		}
		if need {
			t.syncs.want(n.Name, n.Name, meta.Boot, 0, 0)
		}
		return ch
	})
}

func (t *Tracker) countAliveLocked() {
	n := int32(1)
	for _, m := range t.v.members {
		if m.Alive {
			n++
		}
	}
	t.alive.Store(n)
}
