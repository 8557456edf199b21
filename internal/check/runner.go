package check

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Defaults for Entry.Interval and Entry.Timeout.
const (
	DefaultInterval = 5 * time.Second
	DefaultTimeout  = 2 * time.Second
)

// Entry is what Runner.Add checks: an advertised thing with its checks.
type Entry struct {
	// Specs are the entry's checks; it is advertised while all pass. With
	// none it is Passing from the start.
	Specs []Spec
	// Interval is the time from the start of one run of a check to the
	// start of the next; 0 means DefaultInterval. A check never overlaps
	// itself: one that takes longer runs again as soon as it ends.
	Interval time.Duration
	// Timeout bounds each run; 0 means DefaultTimeout. A run that takes
	// longer fails.
	Timeout time.Duration
}

// A Runner runs the checks of entries and keeps their state. It is safe
// for concurrent use.
type Runner struct {
	clock clock
	probe func(context.Context, Spec) Result

	mu      sync.Mutex
	entries map[string]*entry
	changed map[string]bool // IDs whose State changed since Changes
	results [Critical + 1]uint64
	closed  bool
	notify  chan struct{}
	once    sync.Once
}

// entry is an added Entry and the goroutines checking it.
type entry struct {
	Entry
	cancel context.CancelFunc
	wg     sync.WaitGroup
	status Status // guarded by Runner.mu
	gone   bool   // removed: guarded by Runner.mu
}

// errTimedOut is the cancel cause of a run that timed out.
var errTimedOut = errors.New("check timed out")

// NewRunner returns a Runner with no entries.
func NewRunner() *Runner {
	return newRunner(realClock{}, func(ctx context.Context, s Spec) Result { return s.Run(ctx) })
}

func newRunner(c clock, probe func(context.Context, Spec) Result) *Runner {
	return &Runner{
		clock:   c,
		probe:   probe,
		entries: map[string]*entry{},
		changed: map[string]bool{},
		notify:  make(chan struct{}, 1),
	}
}

// Add starts checking an entry under id: each check runs at once, then
// every e.Interval. The entry starts Pending (Passing if it has no checks).
// It is an error to add an id twice, or to add after Close.
func (r *Runner) Add(id string, e Entry) error {
	if e.Interval < 0 || e.Timeout < 0 {
		return fmt.Errorf("check %q: negative interval or timeout", id)
	}
	e.Interval = cmpOr(e.Interval, DefaultInterval)
	e.Timeout = cmpOr(e.Timeout, DefaultTimeout)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return fmt.Errorf("check %q: runner closed", id)
	}
	if _, ok := r.entries[id]; ok {
		return fmt.Errorf("check %q: already added", id)
	}
	ctx, cancel := context.WithCancel(context.Background())
	en := &entry{Entry: e, cancel: cancel, status: Status{ID: id}}
	for _, s := range e.Specs {
		en.status.Checks = append(en.status.Checks, CheckStatus{Spec: s.String(), State: Pending})
	}
	en.status.State = worst(en.status.Checks)
	r.entries[id] = en
	if len(e.Specs) == 0 {
		r.markChanged(id)
	}
	for i := range e.Specs {
		en.wg.Go(func() { r.loop(ctx, en, i) })
	}
	return nil
}

func cmpOr(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Remove stops checking the entry id and forgets it; it waits for runs in
// flight to be cancelled. After Remove returns, Changes no longer reports
// id. Removing an unknown id does nothing.
func (r *Runner) Remove(id string) {
	r.mu.Lock()
	en := r.entries[id]
	if en != nil {
		r.forget(id, en)
	}
	r.mu.Unlock()
	if en != nil {
		en.cancel()
		en.wg.Wait()
	}
}

// forget removes en from r; r.mu is held.
func (r *Runner) forget(id string, en *entry) {
	en.gone = true
	delete(r.entries, id)
	delete(r.changed, id)
}

// Close stops all checks, waits for them and closes the Notify channel.
// It is idempotent.
func (r *Runner) Close() error {
	r.mu.Lock()
	r.closed = true
	var stopped []*entry
	for id, en := range r.entries {
		r.forget(id, en)
		stopped = append(stopped, en)
	}
	r.mu.Unlock()
	for _, en := range stopped {
		en.cancel()
	}
	for _, en := range stopped {
		en.wg.Wait()
	}
	r.once.Do(func() { close(r.notify) })
	return nil
}

// Notify returns a channel that receives a value when Changes has
// something to report. Several changes may share one value. Close closes
// the channel.
func (r *Runner) Notify() <-chan struct{} { return r.notify }

// Changes returns the current Status of every entry whose State changed
// since the last call, sorted by ID. Changes are coalesced: an entry that
// changed several times is reported once, as it is now. Runs never wait
// for the caller. Call it from one goroutine.
func (r *Runner) Changes() []Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Status
	for id := range r.changed {
		out = append(out, r.entries[id].snapshot())
	}
	clear(r.changed)
	sortByID(out)
	return out
}

// Status returns the status of the entry id.
func (r *Runner) Status(id string) (Status, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	en, ok := r.entries[id]
	if !ok {
		return Status{}, false
	}
	return en.snapshot(), true
}

// Results returns how many runs of checks, since NewRunner, left their
// check in state s.
func (r *Runner) Results(s State) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s < 0 || int(s) >= len(r.results) {
		return 0
	}
	return r.results[s]
}

// List returns the status of every entry, sorted by ID.
func (r *Runner) List() []Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Status, 0, len(r.entries))
	for _, en := range r.entries {
		out = append(out, en.snapshot())
	}
	sortByID(out)
	return out
}

func sortByID(s []Status) {
	slices.SortFunc(s, func(a, b Status) int { return strings.Compare(a.ID, b.ID) })
}

// snapshot returns a copy of en's status; Runner.mu is held.
func (en *entry) snapshot() Status {
	s := en.status
	s.Checks = slices.Clone(s.Checks)
	return s
}

// markChanged records that id's State changed and wakes the Notify
// reader without waiting; r.mu is held.
func (r *Runner) markChanged(id string) {
	r.changed[id] = true
	select {
	case r.notify <- struct{}{}:
	default: // a wake-up is pending already
	}
}

// loop runs check i of en until ctx is done.
func (r *Runner) loop(ctx context.Context, en *entry, i int) {
	wake := make(chan struct{}, 1)
	for {
		start := r.clock.Now()
		res := r.runOnce(ctx, en.Specs[i], en.Timeout)
		if ctx.Err() != nil {
			return
		}
		r.record(en, i, res)
		wait := max(en.Interval-r.clock.Now().Sub(start), 0)
		stop := r.clock.AfterFunc(wait, func() { wake <- struct{}{} })
		select {
		case <-wake:
		case <-ctx.Done():
			stop()
			return
		}
	}
}

// runOnce runs spec once, cancelling it after timeout.
func (r *Runner) runOnce(ctx context.Context, spec Spec, timeout time.Duration) Result {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := r.clock.AfterFunc(timeout, func() { cancel(errTimedOut) })
	res := r.probe(ctx, spec)
	stop()
	if res.Pass || context.Cause(ctx) != errTimedOut {
		return res
	}
	msg := fmt.Sprintf("timed out after %v", timeout)
	if spec.kind != kindExec { // others only say they were cancelled
		return Result{Output: msg}
	}
	return Result{Output: prefixed(msg, res.Output)}
}

// record applies the result of a run of check i of en.
func (r *Runner) record(en *entry, i int, res Result) {
	now := r.clock.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if en.gone {
		return
	}
	c := &en.status.Checks[i]
	c.Failures++
	if res.Pass {
		c.Failures = 0
	}
	c.State = c.State.next(res.Pass, c.Failures)
	c.Output, c.Time = res.Output, now
	r.results[c.State]++
	if s := worst(en.status.Checks); s != en.status.State {
		en.status.State = s
		r.markChanged(en.status.ID)
	}
}
