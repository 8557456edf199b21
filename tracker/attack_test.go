package tracker

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/lab"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/memberlist"
)

// These tests play an attacker on loopback who can send UDP packets to
// the gossip port of an unencrypted cluster but owns no member address.
// They craft memberlist's wire format by hand: a packet is one message
// type byte and its body (msgpack for memberlist's own messages, raw
// bytes for user messages).

// memberlist message types (memberlist net.go, part of the protocol).
const (
	mlAliveMsg byte = 4
	mlUserMsg  byte = 8
)

// spoofer sends raw memberlist packets to one node.
type spoofer struct {
	tb   testing.TB
	conn net.Conn
}

func newSpoofer(tb testing.TB, target string) *spoofer {
	tb.Helper()
	c, err := net.Dial("udp", target)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return &spoofer{tb: tb, conn: c}
}

func (s *spoofer) send(b []byte) {
	s.tb.Helper()
	if _, err := s.conn.Write(b); err != nil {
		s.tb.Fatalf("spoof %d bytes: %v", len(b), err)
	}
}

// user sends payload as a memberlist user message (what NotifyMsg gets).
func (s *spoofer) user(payload []byte) {
	s.tb.Helper()
	s.send(append([]byte{mlUserMsg}, payload...))
}

// alive sends memberlist's "node is alive" message for a node that may
// not exist.
func (s *spoofer) alive(name string, addr netip.AddrPort, meta []byte, incarnation uint32) {
	s.tb.Helper()
	msg := struct {
		Incarnation uint32
		Node        string
		Addr        []byte
		Port        uint16
		Meta        []byte
		Vsn         []uint8
	}{incarnation, name, addr.Addr().AsSlice(), addr.Port(), meta, []uint8{1, 5, 2, 0, 0, 0}}
	var buf bytes.Buffer
	buf.WriteByte(mlAliveMsg)
	if err := codec.NewEncoder(&buf, &codec.MsgpackHandle{}).Encode(&msg); err != nil {
		s.tb.Fatal(err)
	}
	s.send(buf.Bytes())
}

// stateSizes reports how much per-writer state n keeps.
func stateSizes(n *node) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.syncs.mu.Lock()
	defer n.syncs.mu.Unlock()
	return fmt.Sprintf("nodes=%d seen=%d pending=%d tombs=%d members=%d wants=%d",
		len(n.v.nodes), len(n.v.seen), len(n.v.pending), len(n.v.tombs), len(n.v.members), len(n.syncs.wants))
}

// heapInUse returns the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// waitMarker makes writer track service/marker and waits until every
// reader lists it. Gossip from writer reaches a reader's socket after
// packets sent to it before, and is handled in order, so once the
// marker shows, everything spoofed earlier has been handled.
func waitMarker(t *testing.T, writer *node, readers []*node, key string) {
	t.Helper()
	waitMarkerFor(t, writer, readers, key, 10*time.Second)
}

func waitMarkerFor(t *testing.T, writer *node, readers []*node, key string, timeout time.Duration) {
	t.Helper()
	if _, err := writer.Track("marker", key, nil); err != nil {
		t.Fatal(err)
	}
	lab.Eventually(t, timeout, "marker "+key+" on every reader", func() error {
		for _, r := range readers {
			if !slices.Contains(keysOf(r, "marker"), writer.LocalNode()+"/"+key) {
				return fmt.Errorf("%s does not list marker %s", r.LocalNode(), key)
			}
		}
		return nil
	})
}

// Issue 8 item 4: deltas of writers that are not members, and deltas
// over the limits, must leave no state behind and never be re-gossiped.
func TestAttackForeignDeltaFlood(t *testing.T) {
	nodes := startCluster(t, 2, nil)
	target, writer := nodes[0], nodes[1]
	if _, err := writer.Track("http", "web", nil); err != nil {
		t.Fatal(err)
	}
	seenEverywhere(t, nodes, "http", []string{"node1@127.0.0.1/web"}, 3*time.Second)
	before := heapInUse()
	sp := newSpoofer(t, target.addr())
	blob := string(make([]byte, 60_000))
	const fakes = 300
	for i := range fakes {
		if i%20 == 19 { // let the socket buffer drain, as a paced attacker would
			waitMarker(t, writer, []*node{target}, fmt.Sprintf("batch%d", i))
		}
		d := delta{Node: fmt.Sprintf("fake%d@192.0.2.1", i), Boot: 1, Version: 2, Op: opPut,
			Service: "http", Key: "evil", Meta: map[string]string{"blob": blob}}
		sp.user(encodeDelta(&d))
		d.Version = 1
		d.Meta = map[string]string{"small": "1"}
		sp.user(encodeDelta(&d))
		sp.user(encodeLeave(leaveMsg{Node: fmt.Sprintf("ghost%d@192.0.2.1", i), Boot: 7}))
	}
	// A real member's name and boot, in order, but over the limits.
	over := []delta{
		{Service: "http", Key: "huge", Meta: map[string]string{"blob": blob}},
		{Service: "http", Key: string(make([]byte, MaxNameLen+1))},
		{Service: "", Key: "nameless"},
	}
	for _, d := range over {
		d.Node, d.Boot, d.Version, d.Op = writer.LocalNode(), writer.boot, 2, opPut
		sp.user(encodeDelta(&d))
	}
	waitMarker(t, writer, []*node{target}, "m1")
	grew := int64(heapInUse()) - int64(before)
	t.Logf("heap in use grew %.1f MB under %d x 60 KB foreign deltas; %s",
		float64(grew)/1e6, fakes, stateSizes(target))

	target.mu.Lock()
	for name := range target.v.nodes {
		if name != target.LocalNode() && name != writer.LocalNode() {
			t.Errorf("record kept for non-member %s", name)
		}
	}
	for name := range target.v.seen {
		if name != writer.LocalNode() {
			t.Errorf("seen kept for non-member %s", name)
		}
	}
	if len(target.v.pending) != 0 || len(target.v.tombs) != 0 {
		t.Errorf("pending=%d tombs=%d, want none", len(target.v.pending), len(target.v.tombs))
	}
	target.mu.Unlock()
	target.syncs.mu.Lock()
	for name := range target.syncs.wants {
		if name != writer.LocalNode() {
			t.Errorf("sync wanted for non-member %s", name)
		}
	}
	target.syncs.mu.Unlock()
	for _, b := range target.queue.GetBroadcasts(0, 1<<20) {
		if len(b) > maxDeltaBytes {
			t.Errorf("queued a %d-byte broadcast for re-gossip", len(b))
		}
	}
	if got := keysOf(target, "http"); !slices.Equal(got, []string{"node1@127.0.0.1/web"}) {
		t.Errorf("target lists %v, want only node1's web", got)
	}
	if grew > 16<<20 {
		t.Errorf("heap grew %d MB", grew>>20)
	}
}

// Issue 8 item 5: a spoofed delta or leave about a live node with a
// boot memberlist does not show for it must not hide its services.
func TestAttackSpoofedBoot(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spoof func(victim *node) []byte
	}{
		{"delta_future_boot", func(v *node) []byte {
			return encodeDelta(&delta{Node: v.LocalNode(), Boot: 1 << 63, Version: 1, Op: opPut, Service: "evil", Key: "k"})
		}},
		{"notice_future_boot", func(v *node) []byte {
			return encodeDelta(&delta{Node: v.LocalNode(), Boot: 1 << 63, Version: 9, Op: opNotice})
		}},
		{"leave_future_boot", func(v *node) []byte {
			return encodeLeave(leaveMsg{Node: v.LocalNode(), Boot: 1 << 63})
		}},
		{"leave_past_boot", func(v *node) []byte {
			return encodeLeave(leaveMsg{Node: v.LocalNode(), Boot: v.boot - 1})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nodes := startCluster(t, 2, nil)
			target, victim := nodes[0], nodes[1]
			if _, err := victim.Track("http", "web", nil); err != nil {
				t.Fatal(err)
			}
			seenEverywhere(t, nodes, "http", []string{"node1@127.0.0.1/web"}, 3*time.Second)
			newSpoofer(t, target.addr()).user(tc.spoof(victim))
			waitMarker(t, victim, []*node{target}, "after-spoof")
			if got := keysOf(target, "http"); !slices.Equal(got, []string{"node1@127.0.0.1/web"}) {
				t.Errorf("after the spoofed packet target lists %v, want node1's web", got)
			}
			if got := target.Services(); slices.Contains(got, "evil") {
				t.Errorf("spoofed entry shown: services %v", got)
			}
		})
	}
}

// phantomAddr is a loopback address nothing listens on.
func phantomAddr(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 1 + byte(i/250), 1 + byte(i%250)}), 9)
}

// phantomDetectLimit bounds crash detection with phantoms (about 2 s
// without them).
var phantomDetectLimit = 5 * time.Second

// Issue 8 item 6: phantom members (spoofed alive messages for nodes
// that do not exist) must not delay crash detection of a real node.
func TestAttackPhantomsDelayCrashDetection(t *testing.T) {
	const phantoms = 200
	nodes := startCluster(t, 3, nil)
	victim := nodes[2]
	if _, err := victim.Track("http", "web", nil); err != nil {
		t.Fatal(err)
	}
	seenEverywhere(t, nodes, "http", []string{"node2@127.0.0.1/web"}, 3*time.Second)
	sps := []*spoofer{newSpoofer(t, nodes[0].addr()), newSpoofer(t, nodes[1].addr())}
	flood := func(inc uint32) {
		for i := range phantoms {
			meta := encodeNodeMeta(nodeMeta{Boot: uint64(i + 1)})
			for _, sp := range sps {
				sp.alive(fmt.Sprintf("phantom%d@127.0.1.1", i), phantomAddr(i), meta, inc)
			}
		}
	}
	flood(1)
	waitMarkerFor(t, nodes[2], nodes[:2], "after-phantoms", time.Minute)
	for _, n := range nodes[:2] {
		if got := len(n.Members()); got != 3 {
			t.Errorf("%s has %d members after %d phantoms, want 3", n.LocalNode(), got, phantoms)
		}
		slots := n.gate.slots()
		if got := n.ml.NumMembers(); got > 3+slots {
			t.Errorf("%s: memberlist has %d members, want at most 3 + %d on probation", n.LocalNode(), got, slots)
		}
	}

	start := time.Now()
	victim.Close()
	deadline := start.Add(phantomDetectLimit)
	for inc := uint32(2); ; inc++ {
		flood(inc) // the attacker keeps its phantoms alive
		if len(keysOf(nodes[0], "http")) == 0 && len(keysOf(nodes[1], "http")) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("crash of node2 not detected within %v with %d phantoms", time.Since(start), phantoms)
		}
		time.Sleep(100 * time.Millisecond) // the attacker's pace, and our poll
	}
	t.Logf("crash detected after %v with %d phantoms", time.Since(start), phantoms)
}

// bareTracker is a Tracker without gossip sockets, for feeding its
// receive path directly. It knows one member, peer, at boot 5.
func bareTracker(peer string) *Tracker {
	t := &Tracker{
		log:      slog.New(slog.DiscardHandler),
		name:     "me@192.0.2.1",
		boot:     1,
		permdown: time.Minute,
		subs:     make(map[*Subscription]struct{}),
		rr:       make(map[string]uint64),
		done:     make(chan struct{}),
		inbox:    make(chan []byte, 1),
		pushes:   make(chan []byte, pushQueue),
		downs:    make(chan struct{}, 1),
	}
	t.queue = &memberlist.TransmitLimitedQueue{NumNodes: func() int { return 2 }, RetransmitMult: 4}
	t.v = newView(t.name, netip.MustParseAddrPort("192.0.2.1:7946"), t.boot)
	t.syncs = newSyncer(t)
	t.gate = newGate(t)
	t.v.memberUp(peer, netip.MustParseAddrPort("192.0.2.2:7946"), nodeMeta{Boot: 5})
	return t
}

// FuzzReceive feeds arbitrary bytes to every receive path (gossip and
// reliable messages, push/pull state): it must never panic, keep state
// for a writer that is not a member, store anything over the limits, or
// queue an oversized message for re-gossip.
func FuzzReceive(f *testing.F) {
	const peer = "peer@192.0.2.2"
	big := map[string]string{"blob": string(make([]byte, 2000))}
	for _, d := range []delta{
		{Node: peer, Boot: 5, Version: 1, Op: opPut, Service: "s", Key: "k", Meta: map[string]string{"a": "b"}},
		{Node: peer, Boot: 5, Version: 3, Op: opDel, Service: "s", Key: "k"},
		{Node: peer, Boot: 5, Version: 2, Op: opPut, Service: "s", Key: "big", Meta: big},
		{Node: peer, Boot: 1 << 63, Version: 1, Op: opPut, Service: "s", Key: "k"},
		{Node: "ghost@192.0.2.3", Boot: 5, Version: 1, Op: opPut, Service: "s", Key: "k"},
	} {
		f.Add(encodeDelta(&d))
	}
	rec := record{Node: peer, Boot: 5, Version: 4, Entries: []entry{{Service: "s", Key: "k", Version: 4}}}
	ghost := record{Node: "ghost@192.0.2.3", Boot: 5, Version: 4, Entries: rec.Entries}
	f.Add(encodeLeave(leaveMsg{Node: peer, Boot: 5}))
	f.Add(encodeLeave(leaveMsg{Node: "ghost@192.0.2.3", Boot: 5}))
	f.Add(encodeSyncReq(&syncReq{From: peer, Nodes: []string{peer, "ghost@192.0.2.3"}}))
	f.Add(syncResp(rec, ghost))
	f.Add(encodeState(&pushState{From: peer, Records: []record{rec, ghost},
		Digest: []digestItem{{Node: peer, Boot: 5, Version: 9}, {Node: "ghost@192.0.2.3", Boot: 1, Version: 1}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		tr := bareTracker(peer)
		d := &delegate{t: tr}
		d.NotifyMsg(b)
		select {
		case m := <-tr.inbox:
			tr.handleMsg(m)
		default:
		}
		d.MergeRemoteState(b, len(b)%2 == 0)
		checkReceived(t, tr, peer)
	})
}

// checkReceived fails unless tr keeps state only for itself and peer,
// within the limits, and queues nothing oversized.
func checkReceived(t *testing.T, tr *Tracker, peer string) {
	t.Helper()
	ok := func(what, name string) {
		if name != tr.name && name != peer {
			t.Fatalf("%s kept for non-member %q", what, name)
		}
	}
	for n, r := range tr.v.nodes {
		ok("record", n)
		if r.n > MaxEntries {
			t.Fatalf("record of %s has %d entries", n, r.n)
		}
		eachEntry(r, func(e *entry) {
			if err := checkEntry(e.Service, e.Key, e.Meta); err != nil {
				t.Fatalf("stored entry over the limits: %v", err)
			}
		})
	}
	for n := range tr.v.seen {
		ok("seen", n)
	}
	for n := range tr.v.pending {
		ok("pending", n)
	}
	for n := range tr.v.tombs {
		ok("tomb", n)
	}
	for n := range tr.v.members {
		ok("member", n)
	}
	for n := range tr.syncs.wants {
		ok("sync want", n)
	}
	for p := range tr.syncs.replies {
		ok("sync reply", p)
	}
	for _, m := range tr.queue.GetBroadcasts(0, 1<<20) {
		if len(m) > maxDeltaBytes {
			t.Fatalf("queued %d bytes for re-gossip", len(m))
		}
	}
}

func TestGateAdmission(t *testing.T) {
	const peer = "peer@192.0.2.2"
	tr := bareTracker(peer)
	g := tr.gate
	now := t0
	at := func(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
	if err := g.admit(candidate{peer, at("192.0.2.2:7946")}, now); err != nil {
		t.Errorf("member at its address refused: %v", err)
	}
	first := candidate{"new1@192.0.2.3", at("192.0.2.3:7946")}
	second := candidate{"new2@192.0.2.4", at("192.0.2.4:7946")}
	if err := g.admit(first, now); err != nil {
		t.Errorf("first unknown node not admitted on probation: %v", err)
	}
	if err := g.admit(second, now); err == nil {
		t.Errorf("second unknown node admitted: %d probation slot(s)", g.slots())
	}
	if !g.hold(&memberlist.Node{Name: first.Name, Addr: first.Addr.Addr().AsSlice(), Port: first.Addr.Port(), Meta: encodeNodeMeta(nodeMeta{Boot: 3})}) {
		t.Fatal("node on probation reached the view")
	}
	if len(tr.Members()) != 2 {
		t.Fatalf("members %v, want me and peer", tr.Members())
	}
	g.verify(first, true, now)
	if ms := tr.Members(); len(ms) != 3 || ms[1].Name != first.Name || ms[1].Boot != 3 {
		t.Errorf("after its ping answered, members %+v, want new1 with boot 3", ms)
	}
	moved := candidate{peer, at("192.0.2.9:7946")}
	if err := g.admit(moved, now); err != nil || !g.release(peer) {
		t.Errorf("member at a new address: %v, want probation", err)
	}
	g.verify(second, false, now)
	if err := g.admit(second, now.Add(time.Millisecond)); err == nil {
		t.Error("node that did not answer admitted before its retry time")
	}
	g.verify(second, true, now)
	if err := g.admit(second, now); err != nil {
		t.Errorf("node that answered refused: %v", err)
	}
	if cs := g.tick(now); !slices.Equal(cs, []candidate{second}) {
		t.Errorf("tick = %v, want a push/pull with the refused node that answered", cs)
	}
	phantom := candidate{"phantom@127.0.1.1", at("127.0.1.1:9")}
	if err := g.admit(phantom, now); err != nil || !g.release(phantom.Name) {
		t.Errorf("phantom in a free slot: %v, want probation", err)
	}
	defer g.dial(at("192.0.2.7:7946"))()
	if err := g.admit(candidate{"dialed@192.0.2.7", at("192.0.2.7:7946")}, now); err != nil {
		t.Errorf("node at an address being joined refused: %v", err)
	}
}

// A writer's boot is no secret (it is in its memberlist meta, which any
// push/pull hands out), so one spoofed packet can carry the right boot and
// a huge version. That must not freeze the writer's entries until it
// restarts: its own record, in its next push/pull with the node, wins, and
// its later changes show again.
func TestAttackSpoofedHugeVersion(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spoof func(victim *node) []byte
	}{
		{"sync_response", func(v *node) []byte {
			return syncResp(record{Node: v.LocalNode(), Boot: v.boot, Version: 1 << 62})
		}},
		{"delta", func(v *node) []byte {
			return encodeDelta(&delta{Node: v.LocalNode(), Boot: v.boot, Version: 1 << 62, Op: opDel, Service: "http", Key: "web"})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nodes := startCluster(t, 2, nil)
			target, victim := nodes[0], nodes[1]
			if _, err := victim.Track("http", "web", nil); err != nil {
				t.Fatal(err)
			}
			seenEverywhere(t, nodes, "http", []string{"node1@127.0.0.1/web"}, 3*time.Second)
			newSpoofer(t, target.addr()).user(tc.spoof(victim))
			waitMarkerFor(t, victim, []*node{target}, "after-spoof", 3*LANMemberlistConfig().PushPullInterval)
			if got := keysOf(target, "http"); !slices.Equal(got, []string{"node1@127.0.0.1/web"}) {
				t.Errorf("after the spoofed packet target lists %v, want node1's web", got)
			}
		})
	}
}

// A sync request is a few bytes of UDP, with a sender name anyone can
// write; the answer is the requested records, megabytes over TCP to that
// member. Requests for a writer from one peer are answered at most once
// per replyGap (an honest peer asks again only after syncRetry), so a
// flood of spoofed requests cannot make a node stream records non-stop.
func TestAttackSyncRequestFlood(t *testing.T) {
	const peer = "peer@192.0.2.2"
	tr := bareTracker(peer)
	tr.v.local(opPut, "http", "web", nil)
	req := encodeSyncReq(&syncReq{From: peer, Nodes: []string{tr.name}})
	t0 := time.Now()
	answers := func(at time.Time) int {
		for range 100 {
			tr.handleMsg(req)
		}
		return len(tr.syncs.collect(at)[peer])
	}
	if got := answers(t0); got != 1 {
		t.Fatalf("first requests: %d answers, want 1", got)
	}
	if got := answers(t0.Add(syncTick)); got != 0 {
		t.Errorf("requests %v later: %d answers, want none before %v", syncTick, got, replyGap)
	}
	if got := answers(t0.Add(syncRetry)); got != 1 {
		t.Errorf("requests a retry later: %d answers, want 1", got)
	}
	if n := len(tr.syncs.sentTo); n != 1 {
		t.Errorf("%d answers remembered, want 1", n)
	}
}

// floodPhantoms sends each target rate/s alive messages for new phantom
// names until the test ends. It returns how many names were sent so far.
func floodPhantoms(t *testing.T, targets []*node, rate int) func() int64 {
	t.Helper()
	var sent atomic.Int64
	var sps []*spoofer
	for _, n := range targets {
		sps = append(sps, newSpoofer(t, n.addr()))
	}
	stop, done := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(stop); <-done })
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			for range rate / 20 {
				i++
				meta := encodeNodeMeta(nodeMeta{Boot: uint64(i)})
				for _, sp := range sps {
					sp.alive(fmt.Sprintf("phantom%d@127.0.1.1", i), phantomAddr(i%5000), meta, 1)
				}
				sent.Add(1)
			}
		}
	}()
	return sent.Load
}

// Issue 8 item 6, second part: a flood of alive messages for ever new
// phantom names (200 per second at each member, where 8 blocking
// pingers verified about 40) must not keep a real node out: it joins
// one member over TCP and is soon a member everywhere, and no real
// member is dropped meanwhile.
func TestAttackPhantomFloodDelaysJoin(t *testing.T) {
	const rate, limit = 200, 3 * time.Second
	nodes := startCluster(t, 3, nil)
	sent := floodPhantoms(t, nodes, rate)
	lab.Eventually(t, 10*time.Second, "3 s of flood", func() error {
		if n := sent(); n < 3*rate {
			return fmt.Errorf("%d phantom names sent", n)
		}
		return nil
	})
	start := time.Now()
	late := startNode(t, "late", 0, nil)
	if _, err := late.Join([]string{nodes[0].addr()}); err != nil {
		t.Fatal(err)
	}
	all := append(nodes, late)
	lab.Eventually(t, limit, "late a member everywhere", func() error {
		for _, n := range all {
			if got := len(n.Members()); got != len(all) {
				return fmt.Errorf("%s has %d members, want %d", n.LocalNode(), got, len(all))
			}
		}
		return nil
	})
	t.Logf("late a member everywhere after %v, under %d phantom names/s per member", time.Since(start), rate)
}

// Under a flood the bag of nodes to ping stays bounded, and the node of
// the latest alive message is always in it: a full bag drops a random
// node, so a node announced again and again keeps getting chances.
func TestGateBagFull(t *testing.T) {
	g := bareTracker("peer@192.0.2.2").gate
	real := candidate{"real@192.0.2.5", netip.MustParseAddrPort("192.0.2.5:7946")}
	g.mu.Lock()
	defer g.mu.Unlock()
	for i := range 3 * gateQueue {
		g.ask(candidate{fmt.Sprintf("phantom%d@127.0.1.1", i), phantomAddr(i % 5000)})
		if i%gateQueue == gateQueue-1 {
			g.ask(real)
			if !slices.Contains(g.bag, real) {
				t.Fatalf("after %d phantoms, the node just announced is not in the bag", i+1)
			}
		}
	}
	if len(g.bag) != gateQueue || len(g.queued) != gateQueue {
		t.Errorf("bag holds %d, %d marked queued, want %d", len(g.bag), len(g.queued), gateQueue)
	}
	for _, c := range g.bag {
		if !g.queued[c] {
			t.Fatalf("%v in the bag but not marked queued", c)
		}
	}
}

// A join's push/pull (over TCP) vouches for nodes at the address of a
// recent inbound stream only: alive, unknown and unverified ones, a few
// per push/pull.
func TestGateVouched(t *testing.T) {
	const peer = "peer@192.0.2.2"
	g := bareTracker(peer).gate
	node := func(name, addr string, state memberlist.NodeStateType) *memberlist.Node {
		ap := netip.MustParseAddrPort(addr)
		return &memberlist.Node{Name: name, Addr: ap.Addr().AsSlice(), Port: ap.Port(), State: state}
	}
	g.streamFrom(netip.MustParseAddr("192.0.2.3"))
	now := time.Now()
	peers := []*memberlist.Node{
		node("me@192.0.2.1", "192.0.2.3:7946", memberlist.StateAlive), // our own name
		node(peer, "192.0.2.2:7946", memberlist.StateAlive),           // known
		node("dead@192.0.2.3", "192.0.2.3:7947", memberlist.StateDead),
		node("other@192.0.2.9", "192.0.2.9:7946", memberlist.StateAlive), // no stream from there
		node("new@192.0.2.3", "192.0.2.3:7946", memberlist.StateAlive),
	}
	for i := range vouchMax + 2 {
		peers = append(peers, node(fmt.Sprintf("co%d@192.0.2.3", i), fmt.Sprintf("192.0.2.3:%d", 8000+i), memberlist.StateAlive))
	}
	got := g.vouched(peers, now)
	if len(got) != vouchMax || got[0].Name != "new@192.0.2.3" {
		t.Errorf("vouched %v, want new@192.0.2.3 first and %d in all", got, vouchMax)
	}
	for _, c := range g.vouched(peers, now) { // another push/pull listing them meanwhile
		if slices.Contains(got, c) {
			t.Errorf("vouched %v again while it was being pinged", c)
		}
	}
	g.verify(got[0], true, now)
	if got := g.vouched(peers[4:5], now); len(got) != 0 {
		t.Errorf("vouched %v again after it answered", got)
	}
	if got := g.vouched(peers[5:], now.Add(streamTTL)); len(got) != 0 {
		t.Errorf("vouched %v %v after the stream", got, streamTTL)
	}
	g.vouch(peers[5:6], now) // memberlist not created yet: nothing to ping with
	g.ml.Store(&memberlist.Memberlist{})
	g.vouching.Store(vouchBusy)
	g.vouch(peers[5:6], now)
	if len(g.failed) != 0 || len(g.verified) != 1 {
		t.Errorf("vouch pinged: before memberlist was up, or while %d push/pulls were vouching", vouchBusy)
	}
}

// For a while after Join, a node verified on probation (or vouched for)
// gets one push/pull from us, which tells it about us over TCP.
func TestGateGreet(t *testing.T) {
	g := bareTracker("peer@192.0.2.2").gate
	now := t0
	member := candidate{"member@192.0.2.3", netip.MustParseAddrPort("192.0.2.3:7946")}
	late := candidate{"late@192.0.2.4", netip.MustParseAddrPort("192.0.2.4:7946")}
	g.joining(now)
	for _, c := range []candidate{member, late} {
		if err := g.admit(c, now); err != nil {
			t.Fatalf("%s not on probation: %v", c.Name, err)
		}
		g.verify(c, true, now.Add(map[candidate]time.Duration{member: time.Second, late: greetWindow}[c]))
		g.release(c.Name)
	}
	if cs := g.tick(now); !slices.Equal(cs, []candidate{member}) {
		t.Errorf("tick = %v, want a push/pull with %s", cs, member.Name)
	}
	if cs := g.tick(now); len(cs) > 0 {
		t.Errorf("tick = %v, want no more push/pulls (once each, none %v after Join)", cs, greetWindow)
	}
}

// The push/pull of our own join lists the members of the node we dialed:
// all of them are pinged before the merge, once (issue 15: a joiner
// refused nearly all and push/pulled with each a second later), while a
// list pushed to us by a node at another address is not.
func TestGateVouchesOurJoinsList(t *testing.T) {
	g := bareTracker("peer@192.0.2.2").gate
	hub := netip.MustParseAddrPort("192.0.2.3:7946")
	peers := []*memberlist.Node{{Name: "hub@192.0.2.3", Addr: hub.Addr().AsSlice(), Port: hub.Port(), State: memberlist.StateAlive}}
	for i := range vouchJoinMax + 5 {
		a := netip.AddrFrom4([4]byte{198, 51, 100, byte(i + 1)})
		peers = append(peers, &memberlist.Node{Name: fmt.Sprintf("m%d@%v", i, a), Addr: a.AsSlice(), Port: 7946, State: memberlist.StateAlive})
	}
	if g.ourJoin(peers) {
		t.Error("a list from a node we are not dialing taken for our join")
	}
	defer g.dial(hub)()
	if !g.ourJoin(peers) {
		t.Fatal("the list of the node we dial not taken for our join")
	}
	if got := g.vouchedJoin(peers); len(got) != vouchJoinMax {
		t.Errorf("vouched %d nodes of our join's list, want %d", len(got), vouchJoinMax)
	}
}

// A node that showed it knows us since our join (it push/pulled with us
// or asked for our record) gets no greeting push/pull (issue 15: each of
// 30 agents started together greeted nearly every other one).
func TestGateGreetSkipsNodesThatKnowUs(t *testing.T) {
	g := bareTracker("peer@192.0.2.2").gate
	now := t0
	g.joined = now // as joining, without its clock
	known := candidate{"known@192.0.2.3", netip.MustParseAddrPort("192.0.2.3:7946")}
	other := candidate{"other@192.0.2.4", netip.MustParseAddrPort("192.0.2.4:7946")}
	g.knownBy[known.Name] = true // as knows, without its clock
	for _, c := range []candidate{known, other} {
		g.admit(c, now)
		g.verify(c, true, now)
		g.release(c.Name)
	}
	if cs := g.tick(now); !slices.Equal(cs, []candidate{other}) {
		t.Errorf("tick = %v, want a push/pull with %s only", cs, other.Name)
	}
	g.joining(now.Add(time.Minute))
	if len(g.knownBy) != 0 {
		t.Error("a new join kept who knew us before")
	}
}

// Nodes refused while the probation slots were taken and that answered
// their ping later all get a push/pull at the next tick, and so do all
// the nodes to greet, not one per tick: 30 agents started together
// waited seconds for each other.
func TestGateTickPushPullsEveryAnsweredNode(t *testing.T) {
	g := bareTracker("peer@192.0.2.2").gate
	now := t0
	g.joining(now)
	var all []candidate
	for i := range 20 {
		c := candidate{fmt.Sprintf("n%02d@198.51.100.%d", i, i+1), netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(i + 1)}), 7946)}
		g.admit(c, now) // the first on probation, the others refused
		all = append(all, c)
	}
	for _, c := range all {
		g.verify(c, true, now) // each to greet too: we just joined
	}
	got := g.tick(now)
	slices.SortFunc(got, func(a, b candidate) int { return cmp.Compare(a.Name, b.Name) })
	if !slices.Equal(all, got) {
		t.Errorf("tick push/pulls with %d nodes %v, want all %d verified (refused or to greet), once each", len(got), got, len(all))
	}
	if got := g.tick(now); len(got) != len(all)-1 {
		t.Errorf("second tick push/pulls with %d nodes, want the %d refused again", len(got), len(all)-1)
	}
}

// Agents started together all join the first one at once: while many of
// their push/pulls are vouching, the next joiner is still vouched for
// (pinged during its push/pull) instead of waiting in the bag and for a
// push/pull one per gate tick, which made 30 agents started together
// take seconds to list each other (4 push/pulls vouched at once).
func TestGateVouchesManyJoinsAtOnce(t *testing.T) {
	seed, joiner := startNode(t, "seed", 0, nil), startNode(t, "joiner", 0, nil)
	g := seed.gate
	g.streamFrom(netip.MustParseAddr("127.0.0.1"))
	g.vouching.Store(16) // other joiners' push/pulls
	c := candidate{joiner.LocalNode(), netip.MustParseAddrPort(joiner.addr())}
	g.vouch([]*memberlist.Node{{Name: c.Name, Addr: c.Addr.Addr().AsSlice(), Port: c.Addr.Port(), State: memberlist.StateAlive}}, time.Now())
	g.mu.Lock()
	_, ok := g.verified[c]
	g.mu.Unlock()
	if !ok {
		t.Errorf("with 16 push/pulls vouching, %s was not vouched for", c.Name)
	}
}

// The gate's ping waits memberlist's probe timeout: a real node whose
// acks take 230 ms (30 agents starting on 2 cores) is verified, where
// a 200 ms timeout failed most pings of such a start and delayed every
// admission by retries.
func TestGateVerifiesSlowNode(t *testing.T) {
	slow, asker := startNode(t, "slow", 0, nil), startNode(t, "asker", 0, nil)
	slow.tr.setDelay(230 * time.Millisecond)
	c := candidate{slow.LocalNode(), netip.MustParseAddrPort(slow.addr())}
	if !asker.gate.ping(c) {
		t.Errorf("%s, acking after 230 ms, not verified", c.Name)
	}
}

// A gate tick push/pulls with its nodes two at a time: each push/pull
// merges the peer's nodes under memberlist's node lock, which UDP acks
// wait for, and with 8 at once (30 agents started together, each
// greeting ~25 nodes) some agents' acks stalled for seconds. Peers that
// accept and never answer hold each push/pull for the TCP timeout.
func TestGatePushPullsFewAtOnce(t *testing.T) {
	const want = 2
	n := startNode(t, "n", 0, func(c *Config) { c.Memberlist.TCPTimeout = 300 * time.Millisecond })
	var cs []candidate
	for i := range 16 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go acceptSilently(ln)
		cs = append(cs, candidate{fmt.Sprintf("x%d@127.0.0.1", i), netip.MustParseAddrPort(ln.Addr().String())})
	}
	n.gate.pushPull(cs)
	if m := n.tr.streams.most.Load(); m != want {
		t.Errorf("%d push/pulls open at once, want %d", m, want)
	}
}

// acceptSilently accepts connections on ln and reads them until the
// other end closes.
func acceptSilently(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			io.Copy(io.Discard, c)
		}()
	}
}
