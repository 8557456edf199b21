package sdjoincmd

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/ipfinder-go/ipfinder/tracker"
)

// Joining hostfile peers. memberlist joins a peer over TCP with a 2 s
// timeout, and tracker.Join runs 32 at a time: a hostfile with 1000 dead
// or firewalled entries before a live one would delay it by a minute. So
// every peer is first probed with a plain TCP connect, up to probeTimeout,
// many at once, and only the peers that answer are joined.
//
// Of the peers that answer, a round joins joinFanout, picked at random:
// each join is a full state exchange (and an admission check on both
// sides), and the others arrive by gossip, as in serf. 30 agents started
// together each joining all 29 others spent 13 times serf's CPU and took
// seconds to converge on 2 cores.
//
// While hostfile peers are missing and this agent has no member but
// itself, rounds repeat from retryFirst, doubling up to retryFast, for
// formWindow after the agent starts (an agent started before its peers
// joins them soon after they start); otherwise only every
// --retry-interval. Once in a cluster, peers that start later join it
// through their own hostfiles, and the members this one lacks arrive by
// gossip: 30 agents started together, each re-probing every missing
// peer at the fast pace while gossip admitted them, made 1,800 TCP
// connects in the first seconds.
const (
	probeTimeout = time.Second
	maxProbes    = 1024 // probes at once, at most; see probeWorkers
	minProbes    = 16
	joinFanout   = 3
	retryFirst   = 100 * time.Millisecond
	retryFast    = time.Second
	probeStagger = 10 * time.Millisecond // see joinPeers
	formWindow   = 30 * time.Second
)

// kickJoin wakes joinLoop.
func (c *core) kickJoin() {
	select {
	case c.joinKick <- struct{}{}:
	default:
	}
}

// joinLoop joins the missing peers whenever kicked, and soon again while
// some are missing (see nextRetry), until ctx is done. It closes
// c.joined after the first round (the loop kicks it at start).
func (c *core) joinLoop(ctx context.Context) {
	defer c.wg.Done()
	first := c.joined
	start := time.Now()
	retry := time.NewTimer(0)
	retry.Stop()
	defer retry.Stop()
	var wait time.Duration
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.joinKick:
		case <-retry.C:
		}
		missing := c.joinMissing(ctx)
		if first != nil {
			close(first)
			first = nil
		}
		var again bool
		if wait, again = nextRetry(wait, missing > 0 && c.alone(), time.Since(start)); again {
			retry.Reset(wait)
		}
	}
}

// nextRetry returns the wait before the next round after one that waited
// wait (zero at first) and found peers missing (while alone) or not, age after the
// agent started, and whether to schedule one at all: from retryFirst,
// doubling up to retryFast, within formWindow. Without missing peers it
// returns zero: the next series starts from retryFirst.
func nextRetry(wait time.Duration, missing bool, age time.Duration) (time.Duration, bool) {
	if !missing {
		return 0, false
	}
	wait = min(max(2*wait, retryFirst), retryFast)
	return wait, age+wait <= formWindow
}

// joinMissing joins the hostfile's and discovery's peers that are not
// members (see joinPeers): first those given by address, then those
// given by name, resolved meanwhile (see resolvePeers), so slow names do
// not delay the addresses. It returns how many peers were missing.
func (c *core) joinMissing(ctx context.Context) int {
	c.mu.Lock()
	t, peers, adv, self := c.t, c.joinListLocked(), c.adv.Addr(), c.selfLocked()
	c.mu.Unlock()
	if t == nil {
		return 0
	}
	addrs, named := splitNamed(peers)
	n, tried, err := joinSome(ctx, t, addrs)
	if len(named) > 0 && ctx.Err() == nil {
		k, more, e := joinSome(ctx, t, c.resolvePeers(ctx, named, adv, self))
		n, tried = n+k, tried+more
		if e != nil {
			err = e
		}
	}
	if tried == 0 {
		return 0
	}
	c.log.Debug("join", "tried", tried, "reached", n, "err", err)
	switch {
	case ctx.Err() != nil || errors.Is(err, tracker.ErrClosed):
	case n == 0 && !c.joinWarned:
		c.joinWarned = true
		c.warn("no peer reachable yet (%d tried); retrying", tried)
	case n > 0:
		c.joinWarned = false
	}
	return tried
}

// alone reports whether the tracker has no live member but itself.
func (c *core) alone() bool {
	c.mu.Lock()
	t := c.t
	c.mu.Unlock()
	return t == nil || len(t.Members()) <= 1
}

// splitNamed splits peers into those given by address and by host name.
func splitNamed(peers []string) (addrs, named []string) {
	for _, p := range peers {
		if _, ok := peerName(p); ok {
			named = append(named, p)
		} else {
			addrs = append(addrs, p)
		}
	}
	return addrs, named
}

// joinSome joins the peers that are not members of t (see joinPeers) and
// returns how many were reached and tried.
func joinSome(ctx context.Context, t *tracker.Tracker, peers []string) (reached, tried int, err error) {
	missing := notMembers(t, peers)
	if len(missing) == 0 {
		return 0, 0, nil
	}
	reached, err = joinPeers(ctx, t, missing, probeWorkers(), skipMembers)
	return reached, len(missing), err
}

// notMembers returns the peers that are not members of t.
func notMembers(t *tracker.Tracker, peers []string) []string {
	have := map[string]bool{}
	for _, m := range t.Members() {
		have[m.Addr.String()] = true
	}
	var out []string
	for _, p := range peers {
		if !have[p] {
			out = append(out, p)
		}
	}
	return out
}

// joinPeers probes peers in random order and joins joinFanout of those
// that answer, skipping the ones that became members meanwhile (gossip
// from the first join usually brings in the rest). Probes start one at
// a time and widen: one more for each that is refused, twice as many
// every probeStagger, up to workers TCP connects at once; they stop once
// joinFanout peers answered. Live peers answer within a millisecond, so
// a hostfile of live agents costs a few connects, not one per peer (30
// agents started together made 870), while 1000 firewalled peers, which
// only time out, are all being probed within about 100 ms. It returns
// how many were reached: joined, members by then, or answering after
// joinFanout joins. It returns early when ctx is done.
func joinPeers(ctx context.Context, t *tracker.Tracker, peers []string, workers int, members memberJoins) (int, error) {
	peers = slices.Clone(peers)
	rand.Shuffle(len(peers), func(i, j int) { peers[i], peers[j] = peers[j], peers[i] })
	jobs := make(chan string)
	answered := make(chan string, len(peers))
	refused := make(chan struct{}, len(peers))
	enough := make(chan struct{}) // closed once joinFanout answered
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		count int
	)
	for range min(workers, len(peers)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range jobs {
				if !probe(ctx, p) {
					refused <- struct{}{}
					continue
				}
				answered <- p
				mu.Lock()
				if count++; count == joinFanout {
					close(enough)
				}
				mu.Unlock()
			}
		}()
	}
	go func() {
		defer close(answered)
		defer wg.Wait()
		defer close(jobs)
		feedProbes(ctx, peers, jobs, refused, enough)
	}()
	return joinAnswered(ctx, t, answered, members)
}

// feedProbes hands peers to the probing workers on jobs, widening as
// joinPeers describes, until all are handed out, enough is closed or ctx
// is done.
func feedProbes(ctx context.Context, peers []string, jobs chan<- string, refused <-chan struct{}, enough <-chan struct{}) {
	stagger := time.NewTicker(probeStagger)
	defer stagger.Stop()
	allowed := 1
	for i, p := range peers {
		for i >= allowed {
			select {
			case <-ctx.Done():
				return
			case <-enough:
				return
			case <-refused:
				allowed++
			case <-stagger.C:
				allowed *= 2
			}
		}
		select {
		case jobs <- p:
		case <-ctx.Done():
			return
		case <-enough:
			return
		}
	}
}

// memberJoins says whether joinPeers joins peers that are members already.
type memberJoins bool

const (
	skipMembers memberJoins = false // members are counted as reached, not joined
	joinMembers memberJoins = true  // members too: their records are merged when Join returns
)

// joinAnswered joins the peers arriving on answered, in batches of those
// that arrived meanwhile, until joinFanout joined; it counts the others
// until answered is closed or ctx is done.
func joinAnswered(ctx context.Context, t *tracker.Tracker, answered <-chan string, members memberJoins) (int, error) {
	var n, joined int
	var lastErr error
	for p := range answered {
		batch := []string{p}
		for more := true; more; {
			select {
			case q, ok := <-answered:
				if !ok {
					more = false
				} else {
					batch = append(batch, q)
				}
			default:
				more = false
			}
		}
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		if members == skipMembers {
			answeredN := len(batch)
			if batch = notMembers(t, batch); len(batch) < answeredN {
				n += answeredN - len(batch) // reached through gossip already
			}
		}
		if joined >= joinFanout {
			n += len(batch) // answered: gossip brings it, or a later round joins it
			continue
		}
		if len(batch) == 0 {
			continue
		}
		take := min(len(batch), joinFanout-joined)
		n += len(batch) - take // answered, left to gossip
		k, err := t.Join(batch[:take])
		n, joined = n+k, joined+k
		if err != nil {
			lastErr = err
		}
	}
	if n == 0 {
		return 0, lastErr
	}
	return n, nil
}

// probe reports whether peer (HOST:PORT) accepts a TCP connection within
// probeTimeout.
func probe(ctx context.Context, peer string) bool {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", peer)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// probeWorkers returns how many probes run at once: maxProbes, or fewer
// under a low limit on open files (a quarter of it), so probing never
// starves the control socket and gossip of descriptors.
func probeWorkers() int {
	if lim, ok := fileLimit(); ok {
		return int(min(max(lim/4, minProbes), maxProbes))
	}
	return maxProbes
}
