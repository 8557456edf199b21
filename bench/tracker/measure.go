package main

import (
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/ipfinder-go/ipfinder/tracker"
)

// watch subscribes every observer to service now and returns a function
// that waits for each observer's first diff matching match, giving the
// latencies from start (-1 for a timeout).
func watch(obs []*bnode, service string, match func(tracker.Diff) bool, timeout time.Duration) func(start time.Time) []time.Duration {
	subs := make([]*tracker.Subscription, len(obs))
	for i, b := range obs {
		subs[i] = b.t.Subscribe(service)
	}
	return func(start time.Time) []time.Duration {
		out := make([]time.Duration, len(subs))
		var wg sync.WaitGroup
		for i, s := range subs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer s.Close()
				out[i] = -1
				deadline := time.After(timeout)
				for {
					select {
					case d, ok := <-s.C:
						if !ok {
							return
						}
						if match(d) {
							out[i] = time.Since(start)
							return
						}
					case <-deadline:
						return
					}
				}
			}()
		}
		wg.Wait()
		return out
	}
}

func hasJoin(d tracker.Diff) bool  { return len(d.Joins) > 0 }
func hasLeave(d tracker.Diff) bool { return len(d.Leaves) > 0 }

// worst is the largest latency, or -1 if any timed out.
func worst(ds []time.Duration) time.Duration {
	w := time.Duration(0)
	for _, d := range ds {
		if d < 0 {
			return -1
		}
		w = max(w, d)
	}
	return w
}

func percentile(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	for _, d := range s {
		if d < 0 {
			return -1
		}
	}
	slices.Sort(s)
	return s[int(math.Ceil(q*float64(len(s))))-1]
}

func without(nodes []*bnode, skip *bnode) []*bnode {
	var out []*bnode
	for _, b := range nodes {
		if b != skip {
			out = append(out, b)
		}
	}
	return out
}

// memKB is the Go heap and stacks in use after a collection.
func memKB() int64 {
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse+ms.StackInuse) / 1024
}

func runMain(p profile, n int, get func(metric, target string) *row) error {
	rss0, mem0 := rssKB(), memKB()
	c, _, err := startCluster(p, n, 0, nil)
	if err != nil {
		return err
	}
	defer c.close()
	mem1 := memKB()
	get(fmt.Sprintf("memory per agent, heap+stacks (RSS) (%d in one process)", n), "-").vals[p.name] =
		fmt.Sprintf("%d KB (%d KB)", (mem1-mem0)/int64(n), (rssKB()-rss0)/int64(n))
	fmt.Printf("%s: %d nodes up\n", p.name, n)

	// New entry visible on every node.
	var all, perNode []time.Duration
	for i := range 20 {
		origin := c.nodes[(i*7)%n]
		svc := fmt.Sprintf("prop-%d", i)
		wait := watch(without(c.nodes, origin), svc, hasJoin, 10*time.Second)
		start := time.Now()
		if _, err := origin.t.Track(svc, "k", map[string]string{"load": "1"}); err != nil {
			return err
		}
		lat := wait(start)
		perNode = append(perNode, lat...)
		all = append(all, worst(lat))
	}
	get(fmt.Sprintf("new entry on a node, p99 per node (%d nodes)", n), "< 1 s").vals[p.name] = dur(percentile(perNode, 0.99))
	get(fmt.Sprintf("new entry on every node, worst of 20 (%d nodes)", n), "< 1 s").vals[p.name] = dur(percentile(all, 1))
	fmt.Printf("%s: propagation done\n", p.name)

	// Idle gossip, once the post-change notices are over.
	time.Sleep(12 * time.Second)
	b0, t0 := c.sent(), time.Now()
	time.Sleep(10 * time.Second)
	rate := float64(c.sent()-b0) / time.Since(t0).Seconds() / float64(n)
	get(fmt.Sprintf("idle gossip sent per node (%d nodes)", n), "< 10 KB/s").vals[p.name] = fmt.Sprintf("%.1f KB/s", rate/1000)
	fmt.Printf("%s: idle done\n", p.name)

	// Crash: Close without Leave.
	crash, err := c.departures("crash", 40*time.Second, func(b *bnode) { b.t.Close() })
	if err != nil {
		return err
	}
	get(fmt.Sprintf("crash hidden on every node, worst of 3 (%d nodes)", n), "< 3 s (DefaultLAN ~11 s)").vals[p.name] = dur(percentile(crash, 1))
	fmt.Printf("%s: crash done %v\n", p.name, crash)

	// Graceful leave.
	leave, err := c.departures("leave", 10*time.Second, func(b *bnode) { go b.t.Leave(time.Second) })
	if err != nil {
		return err
	}
	get(fmt.Sprintf("graceful leave on every node, worst of 3 (%d nodes)", n), "< 0.5 s").vals[p.name] = dur(percentile(leave, 1))
	fmt.Printf("%s: leave done %v\n", p.name, leave)
	return nil
}

// departures takes three nodes out of the cluster in turn with depart
// (what names the kind) and returns, for each, the time until every
// remaining node saw its entry leave (worst of them, given up after
// within). Each node is closed afterwards.
func (c *cluster) departures(what string, within time.Duration, depart func(*bnode)) ([]time.Duration, error) {
	var out []time.Duration
	for i := range 3 {
		svc := fmt.Sprintf("%s-%d", what, i)
		victim, err := c.popTracking(svc, what)
		if err != nil {
			return out, err
		}
		wait := watch(c.nodes, svc, hasLeave, within)
		start := time.Now()
		depart(victim)
		out = append(out, worst(wait(start)))
		victim.t.Close()
	}
	return out, nil
}

// popTracking has the cluster's last node track svc, takes it out of
// c.nodes and waits until every remaining node lists the entry, so the
// caller can measure how fast they notice the node going away. An error
// waiting is wrapped as "WHAT setup".
func (c *cluster) popTracking(svc, what string) (*bnode, error) {
	victim := c.nodes[len(c.nodes)-1]
	if _, err := victim.t.Track(svc, "k", nil); err != nil {
		return nil, err
	}
	c.nodes = c.nodes[:len(c.nodes)-1]
	if err := waitFor(10*time.Second, func() bool {
		for _, b := range c.nodes {
			if b.t.Count(svc) != 1 {
				return false
			}
		}
		return true
	}); err != nil {
		return nil, fmt.Errorf("%s setup: %w", what, err)
	}
	return victim, nil
}

func runBulk(p profile, n, entries int, get func(metric, target string) *row) error {
	rss0, mem0 := rssKB(), memKB()
	c, lastJoin, err := startCluster(p, n, 0, func(i int, t *tracker.Tracker) error {
		for j := range entries {
			if _, err := t.Track("bulk", fmt.Sprintf("%d-%d", i, j), map[string]string{"load": "1"}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer c.close()
	want := n * entries
	fmt.Printf("%s: bulk membership complete %v after last join\n", p.name, time.Since(lastJoin))
	last := time.Now()
	err = waitFor(60*time.Second, func() bool {
		minC, minM, done := want, n, 0
		for _, b := range c.nodes {
			cnt := b.t.Count("bulk")
			minC = min(minC, cnt)
			if cnt == want {
				done++
			}
		}
		if done == n {
			return true
		}
		if time.Since(last) > 2*time.Second {
			for _, b := range c.nodes {
				minM = min(minM, len(b.t.Members()))
			}
			last = time.Now()
			fmt.Printf("  %v: %d/%d nodes complete, fewest entries %d, fewest members %d\n", time.Since(lastJoin).Round(time.Millisecond), done, n, minC, minM)
		}
		return false
	})
	took := time.Since(lastJoin)
	if err != nil {
		took = -1
	}
	get(fmt.Sprintf("%dx%d entries everywhere after last join", n, entries), "< 2 s").vals[p.name] = dur(took)
	mem1 := memKB()
	get(fmt.Sprintf("memory per agent, heap+stacks (RSS) (%d nodes x %d entries)", n, entries), "-").vals[p.name] =
		fmt.Sprintf("%d KB (%d KB)", (mem1-mem0)/int64(n), (rssKB()-rss0)/int64(n))
	fmt.Printf("%s: bulk done in %v\n", p.name, took)
	return nil
}

func runSoak(p profile, n int, loss float64, length time.Duration, get func(metric, target string) *row) error {
	c, _, err := startCluster(p, n, loss, nil)
	if err != nil {
		return err
	}
	defer c.close()
	for _, b := range c.nodes {
		if _, err := b.t.Track("soak", b.t.LocalNode(), nil); err != nil {
			return err
		}
	}
	if err := waitFor(30*time.Second, func() bool {
		for _, b := range c.nodes {
			if b.t.Count("soak") != n {
				return false
			}
		}
		return true
	}); err != nil {
		return fmt.Errorf("soak setup: %w", err)
	}
	var mu sync.Mutex
	falseDowns, victims := 0, map[string]bool{}
	var wg sync.WaitGroup
	var subs []*tracker.Subscription
	for _, b := range c.nodes {
		s := b.t.Subscribe("soak")
		subs = append(subs, s)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range s.C {
				mu.Lock()
				for _, l := range d.Leaves {
					falseDowns++
					victims[l.Node] = true
				}
				mu.Unlock()
			}
		}()
	}
	fmt.Printf("%s: soak %d nodes, %.0f%% UDP loss, %v\n", p.name, n, loss*100, length)
	time.Sleep(length)
	for _, s := range subs {
		s.Close()
	}
	wg.Wait()
	get(fmt.Sprintf("false downs, %d nodes, %.0f%% loss, %v (observer x node)", n, loss*100, length), "0").vals[p.name] =
		fmt.Sprintf("%d (%d nodes)", falseDowns, len(victims))
	return nil
}
