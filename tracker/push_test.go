package tracker

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// quietCluster starts n nodes whose memberlist gossips and probes only
// every 10 s, each joined to all the ones before it: a change that
// arrives within a second was pushed.
func quietCluster(t *testing.T, n int) []*node {
	t.Helper()
	nodes := make([]*node, n)
	for i := range nodes {
		nodes[i] = startNode(t, fmt.Sprintf("node%d", i), 0, func(c *Config) {
			c.Memberlist.GossipInterval = 10 * time.Second
			c.Memberlist.ProbeInterval = 10 * time.Second
		})
		var peers []string
		for _, p := range nodes[:i] {
			peers = append(peers, p.addr())
		}
		if _, err := nodes[i].Join(peers); err != nil && i > 0 {
			t.Fatalf("join node%d: %v", i, err)
		}
	}
	waitFullMembership(t, nodes)
	return nodes
}

// Issue 15: a change is pushed to members at once, not only handed to
// memberlist's gossip ticks, and a leave reaches every member at once.
func TestPushSpreadsChangesAtOnce(t *testing.T) {
	nodes := quietCluster(t, 5)
	time.Sleep(3 * time.Second) // past the push/pulls that follow a join (see rejoinLater)
	if _, err := nodes[0].Track("svc", "k", nil); err != nil {
		t.Fatal(err)
	}
	want := []string{nodes[0].LocalNode() + "/k"}
	lab.Eventually(t, time.Second, "every node seeing the new entry", func() error {
		for _, n := range nodes {
			if got := keysOf(n, "svc"); !slices.Equal(got, want) {
				return fmt.Errorf("%s sees %v", n.LocalNode(), got)
			}
		}
		return nil
	})
	go nodes[0].Leave(time.Second)
	lab.Eventually(t, time.Second, "every node dropping the leaver's entry", func() error {
		for _, n := range nodes[1:] {
			if got := keysOf(n, "svc"); len(got) != 0 {
				return fmt.Errorf("%s sees %v", n.LocalNode(), got)
			}
		}
		return nil
	})
}

// A member forwards a change from a member the first time it sees it,
// and only then.
func TestPushForwardsNewChangesOnce(t *testing.T) {
	const peer = "peer@192.0.2.2"
	tr := bareTracker(peer) // no pusher: the queue holds what it would send
	for v := uint64(1); v <= 2; v++ {
		for range 3 {
			if err := tr.handleDelta(encodeDelta(&delta{Node: peer, Boot: 5, Version: v, Op: opPut, Service: "svc", Key: fmt.Sprint("k", v)})); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tr.handleDelta(encodeDelta(&delta{Node: "stranger@192.0.2.9", Boot: 1, Version: 1, Op: opPut, Service: "svc", Key: "k"})); err != nil {
		t.Fatal(err)
	}
	if n := len(tr.pushes); n != 2 {
		t.Errorf("%d changes queued to push, want 2 (each new change from a member once)", n)
	}
}

// A leave succeeds in a two-node cluster within a short timeout, though
// memberlist's own leave notice needs several gossip ticks there: every
// member got ours at once (issue 15: with gossip every 200 ms, agents
// exited 1 with "timeout waiting for leave broadcast").
func TestLeaveShortTimeout(t *testing.T) {
	nodes := startCluster(t, 2, nil)
	if _, err := nodes[1].Track("svc", "k", nil); err != nil {
		t.Fatal(err)
	}
	seenEverywhere(t, nodes, "svc", []string{nodes[1].LocalNode() + "/k"}, 5*time.Second)
	if err := nodes[1].Leave(300 * time.Millisecond); err != nil {
		t.Errorf("Leave: %v", err)
	}
	lab.Eventually(t, time.Second, "the leaver's entry dropped", func() error {
		if got := keysOf(nodes[0], "svc"); len(got) != 0 {
			return fmt.Errorf("node0 sees %v", got)
		}
		return nil
	})
}
