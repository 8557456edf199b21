package tracker

import (
	"math/rand/v2"
	"time"

	"github.com/hashicorp/memberlist"
)

// Eager push. memberlist hands broadcasts out on its gossip ticks and
// piggybacks them on probes, so a change needs a few ticks to cross the
// cluster. A tracker also sends each new change at once, in one UDP
// packet, to pushFanout random members, and a member forwards a change
// the first time it sees it: a change crosses the cluster in a few
// network hops, and the gossip tick can be serf's 200 ms, half the idle
// wake-ups of 100 ms, while changes spread faster than they did at 100
// ms. The broadcast queue still carries every change, for lost packets
// and the members the random pushes missed.
const (
	pushFanout = 4
	pushQueue  = 256 // changes waiting to be pushed; more are left to gossip
	pushRate   = 512 // changes pushed a second, at most
)

// push queues the change b to be sent at once. It never blocks: when the
// queue is full, b is left to gossip.
func (t *Tracker) push(b []byte) {
	select {
	case t.pushes <- b:
	default:
	}
}

// pusher sends the queued changes, pushRate a second at most, until the
// tracker closes.
func (t *Tracker) pusher() {
	defer t.wg.Done()
	var window time.Time
	sent := 0
	for {
		select {
		case <-t.done:
			return
		case b := <-t.pushes:
			if now := time.Now(); now.Sub(window) >= time.Second {
				window, sent = now, 0
			}
			if sent++; sent > pushRate {
				continue
			}
			t.sendTo(t.pushTargets(pushFanout), b)
		}
	}
}

// sendTo sends b to each node in one UDP packet, best effort.
func (t *Tracker) sendTo(nodes []*memberlist.Node, b []byte) {
	for _, n := range nodes {
		if err := t.ml.SendBestEffort(n, b); err != nil {
			t.log.Debug("tracker: push failed", "node", n.Name, "err", err)
		}
	}
}

// pushTargets returns up to k live members at random; all of them when k
// is negative.
func (t *Tracker) pushTargets(k int) []*memberlist.Node {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*memberlist.Node
	for name, m := range t.v.members {
		if m.Alive {
			out = append(out, m.node(name))
		}
	}
	if k >= 0 && len(out) > k {
		rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
		out = out[:k]
	}
	return out
}

// node returns m, named name, as memberlist addresses it. The *Node
// values memberlist hands out are mutated by it without a lock we could
// take; these are ours.
func (m *member) node(name string) *memberlist.Node {
	return &memberlist.Node{Name: name, Addr: m.Addr.Addr().AsSlice(), Port: m.Addr.Port()}
}
