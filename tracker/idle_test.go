package tracker

import (
	"net/netip"
	"testing"
	"time"
)

// LANMemberlistConfig sends uncompressed (issue 15: LZW on every ping was
// most of an idle agent's CPU); a node with memberlist's default,
// compression on, still joins, gossips and syncs with it, as during an
// upgrade.
func TestClusterMixedCompression(t *testing.T) {
	if LANMemberlistConfig().EnableCompression {
		t.Error("LANMemberlistConfig compresses")
	}
	old := startNode(t, "old", 0, func(c *Config) { c.Memberlist.EnableCompression = true })
	cur := startNode(t, "cur", 0, nil)
	if _, err := cur.Join([]string{old.addr()}); err != nil {
		t.Fatal(err)
	}
	nodes := []*node{old, cur}
	for _, n := range nodes {
		if _, err := n.Track("web", "k", map[string]string{"big": string(make([]byte, 900))}); err != nil {
			t.Fatal(err)
		}
	}
	seenEverywhere(t, nodes, "web", []string{"cur@127.0.0.1/k", "old@127.0.0.1/k"}, 10*time.Second)
}

// An idle syncer has nothing pending, so its goroutine sleeps instead of
// ticking every syncTick; a want keeps it ticking until it is done.
func TestSyncerIdle(t *testing.T) {
	tr := bareTracker("peer@192.0.2.2")
	s := tr.syncs
	if s.pending() {
		t.Fatal("fresh syncer pending")
	}
	s.want("peer@192.0.2.2", "peer@192.0.2.2", 5, 3, gapWait)
	if !s.pending() {
		t.Fatal("syncer with a want not pending")
	}
	s.collect(time.Now().Add(time.Hour)) // long past syncGiveUp
	if s.pending() {
		t.Error("syncer pending after its only want was given up")
	}
}

// A node re-announces its version only within noticeWindow of a change,
// so an idle one does not wake up every noticeInterval.
func TestNoticeOnlyAfterChange(t *testing.T) {
	tr := bareTracker("peer@192.0.2.2")
	tr.changes = make(chan struct{}, 1)
	if tr.notice(time.Now()) {
		t.Error("notice sent with no change")
	}
	if _, err := tr.Track("web", "k", nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-tr.changes:
	default:
		t.Error("a change did not wake the notice timer")
	}
	now := time.Now()
	if !tr.notice(now) {
		t.Error("no notice right after a change")
	}
	if tr.notice(now.Add(noticeWindow)) {
		t.Errorf("notice %v after the change", noticeWindow)
	}
}

// The gate ticks only while it has work (issue 15: it woke an idle agent
// four times a second): a node on probation, a failed ping to retry, or
// a push/pull to run; once they are done it is idle again.
func TestGateIdle(t *testing.T) {
	g := bareTracker("peer@192.0.2.2").gate
	busy := func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.busy()
	}
	if busy() {
		t.Fatal("fresh gate busy")
	}
	now := time.Now()
	c := candidate{"new@192.0.2.7", netip.MustParseAddrPort("192.0.2.7:7946")}
	if err := g.admit(c, now); err != nil {
		t.Fatal(err)
	}
	select {
	case <-g.kick:
	default:
		t.Error("a node on probation did not wake the gate")
	}
	if !busy() {
		t.Error("gate with a node on probation not busy")
	}
	g.verify(c, true, now) // answered: a member, no push/pull needed
	g.tick(now)
	if busy() {
		t.Error("gate busy after its only node was verified")
	}
	g.verify(candidate{"gone@192.0.2.8", netip.MustParseAddrPort("192.0.2.8:7946")}, false, now)
	if !busy() {
		t.Error("gate with a failed ping to retry not busy")
	}
}
