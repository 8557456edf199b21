package main

import (
	"bufio"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ipfinder-go/ipfinder/tracker"
)

// logger receives the nodes' warnings with -log, else nothing.
var logger *slog.Logger

type bnode struct {
	t  *tracker.Tracker
	tr *countingTransport
}

type cluster struct{ nodes []*bnode }

// startNode starts one tracker on loopback with profile p.
func startNode(p profile, name string, loss float64) (*bnode, error) {
	tr, err := newCountingTransport(loss)
	if err != nil {
		return nil, err
	}
	mc := p.base()
	mc.Transport = tr
	t, err := tracker.New(&tracker.Config{
		Name:       name,
		BindAddr:   netip.MustParseAddrPort("127.0.0.1:0"),
		Memberlist: mc,
		Logger:     logger,
	})
	if err != nil {
		tr.Shutdown()
		return nil, err
	}
	return &bnode{t: t, tr: tr}, nil
}

// startCluster starts n nodes, lets prepare run on each before it joins,
// joins each to a random earlier node and waits for full membership.
func startCluster(p profile, n int, loss float64, prepare func(i int, t *tracker.Tracker) error) (*cluster, time.Time, error) {
	c := &cluster{}
	var lastJoin time.Time
	for i := range n {
		b, err := startNode(p, fmt.Sprintf("node%d@127.0.0.1", i), loss)
		if err != nil {
			c.close()
			return nil, lastJoin, err
		}
		if prepare != nil {
			if err := prepare(i, b.t); err != nil {
				c.close()
				return nil, lastJoin, err
			}
		}
		if i > 0 {
			peer := c.nodes[rand.IntN(len(c.nodes))]
			if _, err := b.t.Join([]string{peer.t.Addr().String()}); err != nil {
				c.close()
				return nil, lastJoin, err
			}
			lastJoin = time.Now()
		}
		c.nodes = append(c.nodes, b)
	}
	last := time.Now()
	err := waitFor(120*time.Second, func() bool {
		short := map[int]int{}
		for _, b := range c.nodes {
			if m := len(b.t.Members()); m != n {
				short[m]++
			}
		}
		if len(short) > 0 && time.Since(last) > 3*time.Second {
			last = time.Now()
			for i, b := range c.nodes {
				ms := b.t.Members()
				if len(ms) == n {
					continue
				}
				have := map[string]bool{}
				for _, m := range ms {
					have[m.Name] = true
				}
				for j := range c.nodes {
					if name := fmt.Sprintf("node%d@127.0.0.1", j); !have[name] {
						fmt.Printf("  node%d misses %s\n", i, name)
					}
				}
			}
			fmt.Printf("  membership after %v: nodes by member count (when short) %v\n", time.Since(lastJoin).Round(time.Millisecond), short)
		}
		return len(short) == 0
	})
	if err != nil {
		var counts []int
		for _, b := range c.nodes {
			counts = append(counts, len(b.t.Members()))
		}
		c.close()
		return nil, lastJoin, fmt.Errorf("membership of %d nodes (seen %v): %w", n, counts, err)
	}
	return c, lastJoin, nil
}

func (c *cluster) close() {
	var wg sync.WaitGroup
	for _, b := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.t.Close()
		}()
	}
	wg.Wait()
}

func (c *cluster) sent() int64 {
	var n int64
	for _, b := range c.nodes {
		n += b.tr.sent.Load()
	}
	return n
}

func waitFor(timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %v", timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// rssKB reads this process's resident set size.
func rssKB() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return n
		}
	}
	return 0
}
