package tracker

import (
	"fmt"
	"testing"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// Stats count the gossip each node sends and receives (packets, streams
// and bytes), the push/pull exchanges of a join, and the messages
// dropped unread; the counters only grow.
func TestStatsCountGossip(t *testing.T) {
	nodes := startCluster(t, 2, nil)
	a, b := nodes[0], nodes[1]
	// memberlist shows the member before it merges the join's state.
	lab.Eventually(t, 5*time.Second, "the join counted on both sides", func() error {
		for _, n := range nodes {
			s := n.Stats()
			if s.SentBytes == 0 || s.ReceivedBytes == 0 || s.SentMessages == 0 || s.ReceivedMessages == 0 || s.PushPulls == 0 {
				return fmt.Errorf("%s: %+v, want traffic both ways and a push/pull", n.LocalNode(), s)
			}
		}
		return nil
	})
	before := b.Stats()
	if _, err := a.Track("http", "web", map[string]string{"port": "80"}); err != nil {
		t.Fatal(err)
	}
	seenEverywhere(t, nodes, "http", []string{"node0@127.0.0.1/web"}, 5*time.Second)
	lab.Eventually(t, 5*time.Second, "b's received counters grow", func() error {
		now := b.Stats()
		if now.ReceivedBytes <= before.ReceivedBytes || now.ReceivedMessages <= before.ReceivedMessages {
			return fmt.Errorf("before %+v, now %+v", before, now)
		}
		return nil
	})
	if s := b.Stats(); s.DroppedMessages != 0 {
		t.Errorf("dropped %d messages of a healthy cluster", s.DroppedMessages)
	}
}

// A change from a node that is not a member, and an oversized one, are
// dropped and counted.
func TestStatsCountDropped(t *testing.T) {
	nodes := startCluster(t, 2, nil)
	target, writer := nodes[0], nodes[1]
	sp := newSpoofer(t, target.addr())
	sp.user(encodeDelta(&delta{Node: "ghost@192.0.2.1", Boot: 1, Version: 1, Op: opPut, Service: "http", Key: "evil"}))
	big := delta{Node: writer.LocalNode(), Boot: writer.boot, Version: 9, Op: opPut,
		Service: "http", Key: "huge", Meta: map[string]string{"blob": string(make([]byte, 2*maxDeltaBytes))}}
	sp.user(encodeDelta(&big))
	lab.Eventually(t, 5*time.Second, "both dropped and counted", func() error {
		if got := target.Stats().DroppedMessages; got != 2 {
			return fmt.Errorf("dropped %d, want 2", got)
		}
		return nil
	})
}
