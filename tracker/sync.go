package tracker

import (
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
	"golang.org/x/sync/errgroup"
)

// Sync timing.
const (
	gapWait     = 200 * time.Millisecond // let reordered deltas fill a gap first
	syncRetry   = time.Second            // ask again if still behind
	syncGiveUp  = 10 * time.Second       // then leave it to push/pull
	syncTick    = 50 * time.Millisecond
	maxInFlight = 8 // parallel reliable sends
	// replyGap is how often a peer gets our copy of one writer at most.
	// An honest peer asks again only after syncRetry; without it, each
	// spoofed request of a few bytes sent a peer megabytes of records.
	replyGap = syncRetry / 2
)

// want is a record we know to be behind and will ask a peer for.
type want struct {
	ask        string // peer to ask: the writer itself, or who told us
	at         stamp  // what we must reach
	due, first time.Time
	sent       time.Time
	force      bool // send once even if we seem up to date
}

// syncer owns the goroutine that sends sync requests and answers with
// memberlist's reliable (TCP) messages, outside memberlist callbacks.
type syncer struct {
	t       *Tracker
	mu      sync.Mutex
	wants   map[string]*want           // by writer
	replies map[string]map[string]bool // peer -> writers it asked for
	sentTo  map[[2]string]time.Time    // (peer, writer) -> when last answered
	kick    chan struct{}
}

func newSyncer(t *Tracker) *syncer {
	return &syncer{
		t:       t,
		wants:   make(map[string]*want),
		replies: make(map[string]map[string]bool),
		sentTo:  make(map[[2]string]time.Time),
		kick:    make(chan struct{}, 1),
	}
}

// want asks for node's record at (boot, version) or later from peer ask,
// after wait. With version 0 the request is sent at least once.
func (s *syncer) want(node, ask string, boot, version uint64, wait time.Duration) {
	now := time.Now()
	s.mu.Lock()
	w := s.wants[node]
	if w == nil {
		w = &want{first: now, due: now.Add(wait)}
		s.wants[node] = w
	}
	if s := (stamp{boot, version}); s.Compare(w.at) > 0 {
		w.at = s
	}
	if w.ask == "" || ask == node {
		w.ask = ask
	}
	if version == 0 {
		w.force = true
	}
	s.mu.Unlock()
	s.poke() // run sends it when due, ticking until then
}

// reply queues an answer to peer with our copies of nodes.
func (s *syncer) reply(peer string, nodes []string) {
	s.mu.Lock()
	set := s.replies[peer]
	if set == nil {
		set = make(map[string]bool)
		s.replies[peer] = set
	}
	for _, n := range nodes {
		set[n] = true
	}
	s.mu.Unlock()
	s.poke()
}

func (s *syncer) poke() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// run sends what is due every syncTick while requests or answers are
// pending, and sleeps while none are (an idle agent wakes for nothing).
func (s *syncer) run() {
	defer s.t.wg.Done()
	tick := time.NewTimer(syncTick)
	defer tick.Stop()
	for {
		select {
		case <-s.t.done:
			return
		case <-tick.C:
		case <-s.kick:
		}
		s.round(time.Now())
		if s.pending() {
			tick.Reset(syncTick)
		} else {
			tick.Stop()
		}
	}
}

// pending reports whether requests or answers wait to be sent.
func (s *syncer) pending() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.wants)+len(s.replies) > 0
}

// round sends what is due: answers first, then requests.
func (s *syncer) round(now time.Time) {
	if msgs := s.collect(now); len(msgs) > 0 {
		s.send(msgs)
	}
}

// collect returns the messages due, by peer: answers (a writer's copy at
// most once per replyGap to each peer), then requests.
func (s *syncer) collect(now time.Time) map[string][][]byte {
	t := s.t
	s.mu.Lock()
	replies := s.replies
	s.replies = make(map[string]map[string]bool)
	for k, at := range s.sentTo {
		if now.Sub(at) >= replyGap {
			delete(s.sentTo, k)
		}
	}
	s.mu.Unlock()

	msgs := make(map[string][][]byte) // peer -> messages
	t.mu.Lock()
	for peer, set := range replies {
		var rs [][]byte
		for n := range set {
			if r, ok := t.v.encoded(n); ok && s.answer(peer, n, now) {
				rs = append(rs, r)
			}
		}
		if len(rs) > 0 {
			msgs[peer] = append(msgs[peer], encodeRecords(kindSyncResp, rs))
		}
	}
	s.mu.Lock()
	ask := make(map[string][]string)
	for n, w := range s.wants {
		r := t.v.nodes[n]
		done := t.v.blocked(n, w.at.Boot) || r != nil && r.stamp().Compare(w.at) >= 0
		if done && !w.force || now.Sub(w.first) > syncGiveUp {
			delete(s.wants, n)
			continue
		}
		if now.Before(w.due) || now.Sub(w.sent) < syncRetry {
			continue
		}
		w.sent, w.force = now, false
		ask[w.ask] = append(ask[w.ask], n)
	}
	s.mu.Unlock()
	t.mu.Unlock()
	for peer, nodes := range ask {
		msgs[peer] = append(msgs[peer], encodeSyncReq(&syncReq{From: t.name, Nodes: nodes}))
	}
	return msgs
}

// answer reports whether peer may have our copy of writer now, and if
// so notes it.
func (s *syncer) answer(peer, writer string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := [2]string{peer, writer}
	if at, ok := s.sentTo[k]; ok && now.Sub(at) < replyGap {
		return false
	}
	s.sentTo[k] = now
	return true
}

// send delivers messages, a few peers at a time: in one UDP packet when
// they fit (maxDeltaBytes), else over TCP. A lost packet is asked for
// again after syncRetry. Over TCP only, 30 agents started together
// opened 1,400 streams in their first seconds, one per request and
// answer, nearly all a few dozen bytes.
func (s *syncer) send(msgs map[string][][]byte) {
	t := s.t
	nodes := make(map[string]*memberlist.Node)
	t.mu.Lock()
	for name, m := range t.v.members {
		if m.Alive {
			nodes[name] = m.node(name)
		}
	}
	t.mu.Unlock()
	var g errgroup.Group
	g.SetLimit(maxInFlight)
	for peer, bs := range msgs {
		n := nodes[peer]
		if n == nil {
			continue
		}
		g.Go(func() error {
			for _, b := range bs {
				send := t.ml.SendReliable
				if len(b) <= maxDeltaBytes {
					send = t.ml.SendBestEffort
				}
				if err := send(n, b); err != nil {
					t.log.Debug("tracker: sync send failed", "peer", peer, "err", err)
					return nil
				}
			}
			return nil
		})
	}
	g.Wait()
}
