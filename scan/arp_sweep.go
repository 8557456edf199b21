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
}

// arpTarget is what a sweep remembers per target: 16 bytes, so that a /16
// costs about a megabyte.
type arpTarget struct {
	sent  time.Duration // since the start, of the latest request
	tries uint8
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
	progressEvery   = 50 * time.Millisecond
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
	sw.burst = max(1, int(sw.rate/4))
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
	return sw, nil
}

// run sends the requests and takes in the claims until every target
// answered, the last one's Timeout ran out, ctx ended or reading failed.
func (sw *arpSweep) run(ctx context.Context, events <-chan arpEvent, readDone <-chan struct{}, readErr *error) error {
	start := time.Now()
	limiter := rate.NewLimiter(rate.Limit(sw.rate), sw.burst)
	var (
		queue        []arpRetry
		next         int // the next target to get its first request
		lastFirst    time.Duration
		resume       time.Duration // no sends before: backing off
		failures     int
		lastProgress = -time.Hour
		reported     = -1
	)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	defer sw.report(len(sw.addrs))
	n := len(sw.addrs)
	for {
		t := time.Now()
		now := t.Sub(start)
		for now >= resume && limiter.TokensAt(t) >= 1 {
			for len(queue) > 0 && sw.state[queue[0].idx].reply != 0 {
				queue = queue[1:] // answered meanwhile; append reallocates without the head
			}
			for next < n && sw.state[next].reply != 0 {
				next++ // announced itself before we asked
			}
			// First requests go first, so that a short Timeout still
			// reaches every target; a retry overdue by a whole gap goes
			// before them, so that a long sweep keeps retrying as it goes.
			idx, retry := -1, false
			switch {
			case len(queue) > 0 && queue[0].due+sw.gap <= now:
				idx, retry = int(queue[0].idx), true
			case next < n:
				idx = next
			case len(queue) > 0 && queue[0].due <= now:
				idx, retry = int(queue[0].idx), true
			}
			if idx < 0 {
				break
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
			if retry {
				queue = queue[1:]
			} else {
				next++
				lastFirst = now
			}
			t := &sw.state[idx]
			t.tries++
			t.sent = now
			if int(t.tries) < sw.maxTries {
				queue = append(queue, arpRetry{idx: int32(idx), due: now + sw.gap})
			} else {
				sw.settled++
			}
		}

		if len(sw.found) == n {
			return nil
		}
		wake := time.Duration(1<<63 - 1)
		if next == n {
			end := lastFirst + sw.timeout
			if now >= end {
				return nil
			}
			wake = end
		}
		if next < n || len(queue) > 0 {
			at := max(now, resume)
			if tokens := limiter.TokensAt(t); tokens < 1 {
				at = max(at, now+time.Duration((1-tokens)/sw.rate*float64(time.Second)))
			}
			if next == n {
				at = max(at, queue[0].due)
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
