package scan

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/packet"
	"golang.org/x/time/rate"
)

// arpSweep is the state of one ARPScanner.Sweep. It is owned by the
// goroutine that calls run; the reader only sends it events.
type arpSweep struct {
	s        *ARPScanner
	addrs    []netip.Addr // sorted, unique
	state    []arpTarget  // parallel to addrs
	found    []ARPReply
	timeout  time.Duration
	gap      time.Duration // between the requests to one target
	maxTries int
	rate     float64 // requests per second
	burst    int
	progress func(done, total int)
	log      *slog.Logger

	settled int // targets that answered or got their last request
	dst     net.Addr

	order      []int32          // targets in the order of their first requests: prior first
	next       int              // into order: the next target to get its first request
	lastFirst  time.Duration    // since the start, of the last first request
	lastSent   time.Duration    // since the start, of the latest request
	sent       int              // requests sent
	budget     int              // retries left to send to targets not prior
	planned    time.Duration    // the sweep's time at rate: see retryDeadline
	retries    []arpRetry       // due to the other targets, by due time
	far        []arpRetry       // due retries of targets in a /24 where none answered
	promoted   []arpRetry       // far retries whose /24 has answered since
	priorRetry []arpRetry       // due to prior targets, by due time
	live       map[[3]byte]bool // /24 blocks where a target answered
}

// arpTarget is what a sweep remembers per target: 16 bytes, so that a /16
// costs about a megabyte.
type arpTarget struct {
	sent  time.Duration // since the start, of the latest request
	tries uint8
	prior bool  // live before: asked first, retried first
	reply int32 // index+1 into found; 0 while silent
}

// arpRetry is a request due to a target that has not answered yet.
type arpRetry struct {
	idx int32
	due time.Duration
}

// Sending stops for sendBackoff when the kernel's queue is full, and the
// sweep fails after maxSendFailures such failures in a row.
const (
	progressEvery = 50 * time.Millisecond
	maxBurst      = 256 // requests back to back at the start: a /24
	// pacedBurst bounds the requests back to back after the start, when
	// a late wake-up catches up: retries due together do not flood a LAN
	// whose hosts each take every broadcast.
	pacedBurst      = 16
	sendBackoff     = 5 * time.Millisecond
	maxSendFailures = 20
)

func newARPSweep(s *ARPScanner, targets []netip.Addr, cfg *ARPConfig) (*arpSweep, error) {
	var c ARPConfig
	if cfg != nil {
		c = *cfg
	}
	sw := &arpSweep{
		s:        s,
		timeout:  cmp.Or(c.Timeout, DefaultARPTimeout),
		maxTries: 1 + max(0, cmp.Or(c.Retries, DefaultARPRetries)),
		rate:     float64(cmp.Or(c.Rate, DefaultARPRate)),
		progress: c.Progress,
		log:      orDiscard(c.Logger),
		dst:      &packet.Addr{HardwareAddr: ethernet.Broadcast},
	}
	if sw.timeout < 0 || sw.rate < 0 {
		return nil, fmt.Errorf("scan: ARP timeout %v and rate %v must not be negative", sw.timeout, sw.rate)
	}
	sw.maxTries = min(sw.maxTries, 255)
	sw.gap = sw.timeout / time.Duration(sw.maxTries)
	sw.burst = max(1, min(int(sw.rate/4), maxBurst))
	sw.addrs = make([]netip.Addr, 0, len(targets))
	for _, a := range targets {
		a = a.Unmap()
		if !a.Is4() {
			return nil, fmt.Errorf("scan: ARP target %v is not an IPv4 address", a)
		}
		sw.addrs = append(sw.addrs, a)
	}
	slices.SortFunc(sw.addrs, netip.Addr.Compare)
	sw.addrs = slices.Compact(sw.addrs)
	sw.state = make([]arpTarget, len(sw.addrs))
	sw.order = firstOrder(sw.addrs, sw.state, c.Prior)
	sw.budget = max(len(sw.addrs), int(sw.timeout.Seconds()*sw.rate))
	sw.planned = time.Duration(float64(len(sw.addrs)+sw.budget)/sw.rate*float64(time.Second)) + sw.timeout
	return sw, nil
}

// firstOrder marks the targets among prior in state and returns the
// indexes of addrs in the order of their first requests: prior targets
// first, each part in address order.
func firstOrder(addrs []netip.Addr, state []arpTarget, prior []netip.Addr) []int32 {
	for _, a := range prior {
		if i, ok := slices.BinarySearchFunc(addrs, a.Unmap(), netip.Addr.Compare); ok {
			state[i].prior = true
		}
	}
	order := make([]int32, 0, len(addrs))
	for _, wantPrior := range []bool{true, false} {
		for i := range addrs {
			if state[i].prior == wantPrior {
				order = append(order, int32(i))
			}
		}
	}
	return order
}

// run sends the requests and takes in the claims until every target
// answered, the last one's Timeout ran out, ctx ended or reading failed.
func (sw *arpSweep) run(ctx context.Context, events <-chan arpEvent, readDone <-chan struct{}, readErr *error) error {
	start := time.Now()
	limiter := rate.NewLimiter(rate.Limit(sw.rate), sw.burst)
	var (
		resume       time.Duration // no sends before: backing off
		failures     int
		lastProgress = -time.Hour
		reported     = -1
	)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	defer sw.report(len(sw.addrs))
	defer func() { sw.logDone(time.Since(start)) }()
	n := len(sw.addrs)
	for {
		t := time.Now()
		now := t.Sub(start)
		for now >= resume && limiter.TokensAt(t) >= 1 {
			idx, queue := sw.pick(now)
			if idx < 0 {
				break
			}
			if queue != nil && limiter.Burst() > pacedBurst {
				// Retries fell due during the first burst (its sender
				// was held up past the timeout): they are paced.
				limiter.SetBurstAt(t, pacedBurst)
				if limiter.TokensAt(t) < 1 {
					break
				}
			}
			if err := sw.send(idx); err != nil {
				failures++
				if !isTransientSendError(err) || failures >= maxSendFailures {
					return fmt.Errorf("scan: sending ARP request for %v: %w", sw.addrs[idx], err)
				}
				sw.log.Debug("arp: send queue full, backing off", "err", err)
				resume = now + sendBackoff
				break
			}
			failures = 0
			limiter.AllowN(t, 1)
			if queue != nil {
				if queue != &sw.priorRetry {
					sw.budget--
				}
				*queue = (*queue)[1:] // append reallocates without the head
			} else {
				sw.next++
				sw.lastFirst = now
			}
			sw.record(idx, now)
			// The next send by the clock, not by this pass's start: a send
			// delayed by a busy CPU must not earn the ones after it tokens.
			t = time.Now()
			now = t.Sub(start)
		}
		if limiter.Burst() > pacedBurst {
			limiter.SetBurstAt(t, pacedBurst) // the first burst is spent
		}

		if len(sw.found) == n {
			return nil
		}
		wake := time.Duration(1<<63 - 1)
		if sw.next == n {
			end := sw.end(now)
			if now >= end {
				return nil
			}
			wake = end
		}
		if due, ok := sw.nextDue(now); ok || sw.next < n {
			at := max(now, resume)
			if tokens := limiter.TokensAt(t); tokens < 1 {
				at = max(at, now+time.Duration((1-tokens)/sw.rate*float64(time.Second)))
			}
			if sw.next == n {
				at = max(at, due)
			}
			wake = min(wake, at)
		}
		if sw.progress != nil && reported != sw.settled {
			if now-lastProgress >= progressEvery {
				lastProgress, reported = now, sw.settled
				sw.report(sw.settled)
			} else {
				wake = min(wake, lastProgress+progressEvery)
			}
		}

		timer.Reset(max(wake-now, 0))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-readDone:
			return *readErr
		case ev := <-events:
			sw.claim(ev, start)
		case <-timer.C:
		}
	}
}

// pick returns the target to send the next request to, and the retry
// queue it heads (nil for a first request); -1 when nothing is due. Due
// retries of prior targets go first; then first requests, so that every
// target is asked once as early as the rate allows; then, while the
// budget lasts, the other targets' retries, each target's second request
// before any third: first those in a /24 where a target answered, then
// those in the other /24s (far) until retryDeadline.
func (sw *arpSweep) pick(now time.Duration) (int, *[]arpRetry) {
	sw.skipAnswered()
	switch {
	case len(sw.priorRetry) > 0 && sw.priorRetry[0].due <= now:
		return int(sw.priorRetry[0].idx), &sw.priorRetry
	case sw.next < len(sw.order):
		return int(sw.order[sw.next]), nil
	case sw.budget <= 0:
		return -1, nil
	}
	sw.deferFar(now)
	switch {
	case len(sw.retries) > 0 && sw.retries[0].due <= now:
		return int(sw.retries[0].idx), &sw.retries
	case len(sw.promoted) > 0:
		return int(sw.promoted[0].idx), &sw.promoted
	case len(sw.far) > 0 && now < sw.retryDeadline():
		return int(sw.far[0].idx), &sw.far
	}
	return -1, nil
}

// othersOpen reports whether retries to targets not prior may go: after
// the first pass, while the budget lasts.
func (sw *arpSweep) othersOpen() bool {
	return sw.next == len(sw.order) && sw.budget > 0
}

// retryDeadline is when retries to targets in a /24 where none answered
// stop: twice the time the sweep takes when every request goes at the
// rate (first requests and the retry budget, then Timeout), but at least
// Timeout after the last first request. A sweep that sends at half its
// rate or better keeps those retries; one slowed down further by its own
// sends (a busy CPU; a large subnet where every host takes every
// broadcast) ends instead of running long.
func (sw *arpSweep) retryDeadline() time.Duration {
	return max(2*sw.planned, sw.lastFirst+sw.timeout)
}

// deferFar moves the due retries at the head of the queue whose target is
// in a /24 where no target answered to the far queue, so that those in a
// /24 with live hosts, where a lost reply is likelier, go first.
func (sw *arpSweep) deferFar(now time.Duration) {
	for len(sw.retries) > 0 && sw.retries[0].due <= now && !sw.live[block(sw.addrs[sw.retries[0].idx])] {
		sw.far = append(sw.far, sw.retries[0])
		sw.retries = sw.retries[1:]
	}
}

// promote marks b live and moves its far retries to the promoted queue.
func (sw *arpSweep) promote(b [3]byte) {
	if sw.live == nil {
		sw.live = make(map[[3]byte]bool)
	}
	if sw.live[b] {
		return
	}
	sw.live[b] = true
	kept := sw.far[:0:0]
	for _, r := range sw.far {
		if block(sw.addrs[r.idx]) == b {
			sw.promoted = append(sw.promoted, r)
		} else {
			kept = append(kept, r)
		}
	}
	sw.far = kept
}

// block returns the /24 of a.
func block(a netip.Addr) [3]byte {
	b := a.As4()
	return [3]byte(b[:3])
}

// end is when the sweep ends once every target got its first request:
// Timeout after the last first request, a spacing after the latest
// request, and while retries wait that may still go (see nextDue), a
// spacing after the next is due.
func (sw *arpSweep) end(now time.Duration) time.Duration {
	end := max(sw.lastFirst+sw.timeout, sw.lastSent+sw.gap)
	if due, ok := sw.nextDue(now); ok {
		end = max(end, due+sw.gap)
	}
	return end
}

// skipAnswered drops the targets that answered from the heads of the
// queues and of the first requests.
func (sw *arpSweep) skipAnswered() {
	for _, q := range []*[]arpRetry{&sw.priorRetry, &sw.retries, &sw.promoted, &sw.far} {
		for len(*q) > 0 && sw.state[(*q)[0].idx].reply != 0 {
			*q = (*q)[1:]
		}
	}
	for sw.next < len(sw.order) && sw.state[sw.order[sw.next]].reply != 0 {
		sw.next++ // announced itself before we asked
	}
}

// record records a request to target idx at now and queues its retry.
func (sw *arpSweep) record(idx int, now time.Duration) {
	t := &sw.state[idx]
	t.tries++
	t.sent = now
	sw.lastSent = now
	sw.sent++
	switch {
	case int(t.tries) >= sw.maxTries:
		sw.settled++
	case t.prior:
		sw.priorRetry = append(sw.priorRetry, arpRetry{idx: int32(idx), due: now + sw.gap})
	default:
		sw.retries = append(sw.retries, arpRetry{idx: int32(idx), due: now + sw.gap})
	}
}

// nextDue returns when the earliest retry that may still go is due: the
// other targets' retries only while othersOpen, far ones only before
// retryDeadline.
func (sw *arpSweep) nextDue(now time.Duration) (time.Duration, bool) {
	queues := [][]arpRetry{sw.priorRetry}
	if sw.othersOpen() {
		queues = append(queues, sw.retries, sw.promoted)
		if now < sw.retryDeadline() {
			queues = append(queues, sw.far)
		}
	}
	due, ok := time.Duration(0), false
	for _, q := range queues {
		if len(q) > 0 && (!ok || q[0].due < due) {
			due, ok = q[0].due, true
		}
	}
	return due, ok
}

// logDone logs where a sweep's time went, for -v.
func (sw *arpSweep) logDone(took time.Duration) {
	sw.log.Debug("arp: sweep done", "targets", len(sw.addrs), "found", len(sw.found),
		"requests", sw.sent, "first_pass", sw.lastFirst.Round(time.Millisecond),
		"retry_deadline", sw.retryDeadline().Round(time.Millisecond), "took", took.Round(time.Millisecond))
}

func (sw *arpSweep) report(done int) {
	if sw.progress != nil {
		sw.progress(done, len(sw.addrs))
	}
}

func (sw *arpSweep) send(idx int) error {
	target := sw.addrs[idx]
	frame, err := arpRequest(sw.s.mac, sw.s.source(target), target)
	if err == nil {
		_, err = sw.s.conn.WriteTo(frame, sw.dst)
	}
	return err
}

// claim records that ev.addr is at ev.mac, if ev.addr is a target.
func (sw *arpSweep) claim(ev arpEvent, start time.Time) {
	idx, ok := slices.BinarySearchFunc(sw.addrs, ev.addr, netip.Addr.Compare)
	if !ok {
		return
	}
	t := &sw.state[idx]
	if t.reply != 0 {
		r := &sw.found[t.reply-1]
		if [6]byte(r.MAC) == ev.mac || slices.ContainsFunc(r.Conflict, func(m net.HardwareAddr) bool { return [6]byte(m) == ev.mac }) {
			return
		}
		mac := net.HardwareAddr(ev.mac[:])
		r.Conflict = append(r.Conflict, mac)
		sw.log.Warn("arp: address conflict", "addr", ev.addr, "mac", r.MAC, "other", mac)
		return
	}
	var rtt time.Duration
	if t.tries > 0 {
		rtt = max(0, ev.at.Sub(start)-t.sent)
	}
	sw.found = append(sw.found, ARPReply{Addr: ev.addr, MAC: net.HardwareAddr(ev.mac[:]), RTT: rtt})
	t.reply = int32(len(sw.found))
	sw.promote(block(ev.addr))
	if int(t.tries) < sw.maxTries {
		sw.settled++
	}
}

// results returns the hosts found, sorted by address.
func (sw *arpSweep) results() []ARPReply {
	if sw == nil || len(sw.found) == 0 {
		return nil
	}
	out := slices.Clone(sw.found)
	slices.SortFunc(out, func(a, b ARPReply) int { return a.Addr.Compare(b.Addr) })
	return out
}
