package sdjoincmd

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/ipfinder-go/ipfinder/tracker"
)

// Joining hostfile peers. memberlist joins a peer over TCP with a 2 s
// timeout, and tracker.Join runs 32 at a time: a hostfile with 1000 dead
// or firewalled entries before a live one would delay it by a minute. So
// every peer is first probed with a plain TCP connect, up to probeTimeout,
// many at once, and only the peers that answer are joined.
const (
	probeTimeout = time.Second
	maxProbes    = 1024 // probes at once, at most; see probeWorkers
	minProbes    = 16
)

// kickJoin wakes joinLoop.
func (c *core) kickJoin() {
	select {
	case c.joinKick <- struct{}{}:
	default:
	}
}

// joinLoop joins the missing peers whenever kicked, until ctx is done.
// It closes c.joined after the first round (the loop kicks it at start).
func (c *core) joinLoop(ctx context.Context) {
	defer c.wg.Done()
	first := c.joined
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.joinKick:
		}
		c.joinMissing(ctx)
		if first != nil {
			close(first)
			first = nil
		}
	}
}

// joinMissing joins the hostfile's and discovery's peers that are not
// members (see joinPeers): first those given by address, then those
// given by name, resolved meanwhile (see resolvePeers), so slow names do
// not delay the addresses.
func (c *core) joinMissing(ctx context.Context) {
	c.mu.Lock()
	t, peers, adv, self := c.t, c.joinListLocked(), c.adv.Addr(), c.selfLocked()
	c.mu.Unlock()
	if t == nil {
		return
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
		return
	}
	c.log.Debug("join", "tried", tried, "reached", n, "err", err)
	switch {
	case ctx.Err() != nil || errors.Is(err, tracker.ErrClosed):
	case n == 0 && !c.joinWarned:
		c.joinWarned = true
		c.warn("no peer reachable yet (%d tried); retrying every %s", tried, c.opt.retry)
	case n > 0:
		c.joinWarned = false
	}
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
	reached, err = joinPeers(ctx, t, missing, probeWorkers())
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

// joinPeers probes peers with up to workers TCP connects at once and
// joins those that answer, skipping the ones that became members
// meanwhile (gossip from the first join usually brings in the rest). It
// returns how many were reached: joined, or members by then. It returns
// early when ctx is done.
func joinPeers(ctx context.Context, t *tracker.Tracker, peers []string, workers int) (int, error) {
	jobs := make(chan string)
	answered := make(chan string, len(peers))
	var wg sync.WaitGroup
	for range min(workers, len(peers)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range jobs {
				if probe(ctx, p) {
					answered <- p
				}
			}
		}()
	}
	go func() {
		defer close(answered)
		defer wg.Wait()
		defer close(jobs)
		for _, p := range peers {
			select {
			case jobs <- p:
			case <-ctx.Done():
				return
			}
		}
	}()
	return joinAnswered(ctx, t, answered)
}

// joinAnswered joins the peers arriving on answered, in batches of those
// that arrived meanwhile, until it is closed or ctx is done.
func joinAnswered(ctx context.Context, t *tracker.Tracker, answered <-chan string) (int, error) {
	var n int
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
		answeredN := len(batch)
		if batch = notMembers(t, batch); len(batch) < answeredN {
			n += answeredN - len(batch) // reached through gossip already
		}
		if len(batch) == 0 {
			continue
		}
		k, err := t.Join(batch)
		n += k
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
