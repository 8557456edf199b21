package sdjoincmd

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/ipfinder-go/ipfinder/tracker"
)

// newLoopbackTracker starts a tracker on a free loopback port, closed
// when the test ends.
func newLoopbackTracker(t *testing.T, name string) *tracker.Tracker {
	t.Helper()
	tr, err := tracker.New(&tracker.Config{Name: name + "@127.0.0.1", BindAddr: netip.MustParseAddrPort("127.0.0.1:0")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// TestJoinPeers: among peers that refuse connections, the live one is
// joined, and counted once as reached; with ctx done, nothing is tried.
func TestJoinPeers(t *testing.T) {
	t.Parallel()
	a, b := newLoopbackTracker(t, "a"), newLoopbackTracker(t, "b")
	var peers []string
	for i := range 50 {
		peers = append(peers, fmt.Sprintf("127.0.%d.%d:1", 9, i+1)) // nobody listens on port 1
	}
	peers = append(peers, b.Addr().String())
	n, err := joinPeers(t.Context(), a, peers, 8, skipMembers)
	if n != 1 || err != nil {
		t.Errorf("joinPeers = %d, %v; want 1 reached", n, err)
	}
	waitFor(t, 5*time.Second, "b a member of a", func() bool { return len(a.Members()) == 2 })
	if n, err := joinPeers(t.Context(), a, []string{b.Addr().String()}, 8, skipMembers); n != 1 || err != nil {
		t.Errorf("joinPeers of a member = %d, %v; want it counted as reached", n, err)
	}
	// rejoin's mode: a member is joined again, its records merged on return.
	before := a.Stats().PushPulls
	if n, err := joinPeers(t.Context(), a, []string{b.Addr().String()}, 8, joinMembers); n != 1 || err != nil {
		t.Errorf("joinPeers of a member, joinMembers = %d, %v; want 1 joined", n, err)
	}
	if after := a.Stats().PushPulls; after <= before {
		t.Errorf("joinMembers did not push/pull with the member (push/pulls %d -> %d)", before, after)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	start := time.Now()
	if n, _ := joinPeers(ctx, a, peers, 8, skipMembers); n != 0 || time.Since(start) > time.Second {
		t.Errorf("joinPeers with ctx done = %d after %v, want 0 at once", n, time.Since(start))
	}
}

// TestJoinPeersJoinsFew: of 30 live peers that know nobody, joinPeers
// joins joinFanout (a push/pull each, merged before it returns) and
// stops probing soon after (issue 15: each of 30 agents started together
// probed all 29 others); the others are left to gossip.
func TestJoinPeersJoinsFew(t *testing.T) {
	t.Parallel()
	a := newLoopbackTracker(t, "a")
	var peers []string
	for i := range 30 {
		peers = append(peers, newLoopbackTracker(t, fmt.Sprintf("p%d", i)).Addr().String())
	}
	n, err := joinPeers(t.Context(), a, peers, 1024, skipMembers)
	if n < joinFanout || n > len(peers)/2 || err != nil {
		t.Errorf("joinPeers = %d, %v; want %d to %d reached (it stops probing once %d answered)", n, err, joinFanout, len(peers)/2, joinFanout)
	}
	if got := a.Stats().PushPulls; got != joinFanout {
		t.Errorf("%d push/pulls, want %d", got, joinFanout)
	}
}
