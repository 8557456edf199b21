package rename

import (
	"net/netip"
	"time"
)

// decider turns address events and fresh reads of the addresses into
// Changes. It is pure: the caller passes the time and the identity that
// chooseAddr picked from a read, so tests drive it with a fake clock.
//
// An event only marks the addresses as dirty: they are read again once no
// event came for debounce, so a remove and re-add of the same address (a
// DHCP renewal) or a repeated new-address event is never seen as a change.
// A missing identity is reported only if no usable address came back
// within grace of the read that first found it missing, so a DHCP server
// moving the address (old one flushed, new one a few seconds later) is one
// Change{Old, New}. Events that keep coming postpone the read by at most
// maxWaitFactor debounces from the first of them.
type decider struct {
	debounce time.Duration
	grace    time.Duration

	current netip.Addr // the identity last reported
	due     time.Time  // when to read the addresses; zero: nothing scheduled
	first   time.Time  // the first event not yet followed by a read
	lost    time.Time  // when a read first found current missing; zero: not missing
}

// maxWaitFactor bounds how long events can postpone a read, in debounces.
const maxWaitFactor = 4

// event records an address event at now: read again after debounce of
// quiet, or maxWaitFactor debounces after the first event.
func (d *decider) event(now time.Time) {
	if d.first.IsZero() {
		d.first = now
	}
	d.due = now.Add(d.debounce)
	if limit := d.first.Add(maxWaitFactor * d.debounce); limit.Before(d.due) {
		d.due = limit
	}
}

// poll asks for a read at now unless one is already scheduled.
func (d *decider) poll(now time.Time) {
	if d.due.IsZero() {
		d.due = now
	}
}

// next returns when the caller should read the addresses and call settle,
// and false when nothing is scheduled.
func (d *decider) next() (time.Time, bool) {
	return d.due, !d.due.IsZero()
}

// settle takes the identity chosen from a read at now and returns the
// Change to report, if any.
func (d *decider) settle(now time.Time, chosen netip.Addr) (Change, bool) {
	d.due, d.first = time.Time{}, time.Time{}
	switch {
	case chosen == d.current:
		d.lost = time.Time{}
		return Change{}, false
	case chosen.IsValid():
		c := Change{Old: d.current, New: chosen}
		d.current, d.lost = chosen, time.Time{}
		return c, true
	}
	if d.lost.IsZero() {
		d.lost = now
	}
	if now.Sub(d.lost) >= d.grace {
		c := Change{Old: d.current}
		d.current, d.lost = netip.Addr{}, time.Time{}
		return c, true
	}
	d.due = d.lost.Add(d.grace)
	return Change{}, false
}

// retry schedules the next read at at, after a failed read.
func (d *decider) retry(at time.Time) {
	d.due = at
}
