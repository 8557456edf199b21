package check

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ipfinder-go/ipfinder/internal/lab"
)

const (
	testInterval = 5 * time.Second
	testTimeout  = 2 * time.Second
)

// harness drives a Runner on a fake clock with scripted results: each
// check's probe waits for the result the test sends it, or for its run to
// be cancelled.
type harness struct {
	t     *testing.T
	clock *fakeClock
	r     *Runner
	start time.Time // when the current round of runs started

	running atomic.Int32 // probes in flight

	mu      sync.Mutex
	results map[string]chan Result
}

// ch returns the channel that feeds the probe of spec.
func (h *harness) ch(spec string) chan Result {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.results[spec]
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, clock: newFakeClock(), results: map[string]chan Result{}}
	h.start = h.clock.Now()
	h.r = newRunner(h.clock, func(ctx context.Context, s Spec) Result {
		h.running.Add(1)
		defer h.running.Add(-1)
		select {
		case res := <-h.ch(s.String()):
			return res
		case <-ctx.Done():
			return Result{Output: "cancelled"}
		}
	})
	t.Cleanup(func() { h.r.Close() })
	return h
}

// add adds entry id with one check per spec, which must parse.
func (h *harness) add(id string, specs ...string) {
	h.t.Helper()
	e := Entry{Interval: testInterval, Timeout: testTimeout}
	for _, s := range specs {
		spec, err := Parse(s)
		if err != nil {
			h.t.Fatal(err)
		}
		h.mu.Lock()
		h.results[s] = make(chan Result)
		h.mu.Unlock()
		e.Specs = append(e.Specs, spec)
	}
	if err := h.r.Add(id, e); err != nil {
		h.t.Fatal(err)
	}
}

// give hands res to the run of spec in flight.
func (h *harness) give(spec string, res Result) {
	h.t.Helper()
	select {
	case h.ch(spec) <- res:
	case <-time.After(10 * time.Second):
		h.t.Fatalf("check %s did not run", spec)
	}
}

// hang lets the runs of n checks in flight time out.
func (h *harness) hang(n int) {
	h.t.Helper()
	h.clock.waitTimers(h.t, h.start.Add(testTimeout), n)
	h.clock.Advance(testTimeout)
}

// nextRound waits until n checks have recorded their result and wait for
// their next run, then moves the clock to it.
func (h *harness) nextRound(n int) {
	h.t.Helper()
	next := h.start.Add(testInterval)
	h.clock.waitTimers(h.t, next, n)
	h.clock.Advance(next.Sub(h.clock.Now()))
	h.start = next
}

// waitRecorded waits until n checks have recorded this round's results.
func (h *harness) waitRecorded(n int) {
	h.t.Helper()
	h.clock.waitTimers(h.t, h.start.Add(testInterval), n)
}

var (
	pass = Result{Pass: true, Output: "ok"}
	fail = Result{Output: "connection refused"}
)

func TestRunnerStateMachine(t *testing.T) {
	type step struct {
		res      string // pass, fail or hang
		want     State
		failures int
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"pending_to_passing", []step{{"pass", Passing, 0}}},
		{"pending_until_first_pass", []step{
			{"fail", Pending, 1}, {"fail", Pending, 2}, {"fail", Pending, 3}, {"pass", Passing, 0},
		}},
		{"two_failures_withdraw_one_pass_restores", []step{
			{"pass", Passing, 0}, {"fail", Warning, 1}, {"fail", Critical, 2},
			{"fail", Critical, 3}, {"pass", Passing, 0}, {"fail", Warning, 1},
		}},
		{"flapping_never_withdraws", []step{
			{"pass", Passing, 0}, {"fail", Warning, 1}, {"pass", Passing, 0},
			{"fail", Warning, 1}, {"pass", Passing, 0}, {"fail", Warning, 1}, {"pass", Passing, 0},
		}},
		{"timeouts_are_failures", []step{
			{"pass", Passing, 0}, {"hang", Warning, 1}, {"hang", Critical, 2}, {"pass", Passing, 0},
		}},
		{"timeout_while_pending", []step{{"hang", Pending, 1}, {"pass", Passing, 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			const spec = "tcp://192.0.2.1:80"
			h.add("web", spec)
			prev := Pending
			wantResults := map[State]uint64{}
			for i, s := range tt.steps {
				wantOut := map[string]string{"pass": "ok", "fail": "connection refused", "hang": "timed out after 2s"}[s.res]
				switch s.res {
				case "pass":
					h.give(spec, pass)
				case "fail":
					h.give(spec, fail)
				case "hang":
					h.hang(1)
				}
				h.waitRecorded(1)
				got, _ := h.r.Status("web")
				want := Status{ID: "web", State: s.want, Checks: []CheckStatus{{
					Spec: spec, State: s.want, Failures: s.failures, Output: wantOut, Time: h.clock.Now(),
				}}}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Fatalf("step %d (%s): status (-want +got):\n%s", i, s.res, diff)
				}
				var wantChanges []Status
				if s.want != prev {
					wantChanges = []Status{want}
				}
				if diff := cmp.Diff(wantChanges, h.r.Changes()); diff != "" {
					t.Fatalf("step %d (%s): changes (-want +got):\n%s", i, s.res, diff)
				}
				wantResults[s.want]++
				for _, st := range []State{Passing, Warning, Pending, Critical} {
					if got := h.r.Results(st); got != wantResults[st] {
						t.Fatalf("step %d (%s): Results(%s) = %d, want %d", i, s.res, st, got, wantResults[st])
					}
				}
				prev = s.want
				h.nextRound(1)
			}
		})
	}
}

// TestRunnerEntryIsWorstOfItsChecks checks that an entry is advertised
// only while all its checks pass.
func TestRunnerEntryIsWorstOfItsChecks(t *testing.T) {
	h := newHarness(t)
	const a, b = "tcp://192.0.2.1:80", "http://192.0.2.1/health"
	h.add("web", a, b)
	rounds := []struct {
		a, b Result
		want State
	}{
		{pass, fail, Pending},
		{pass, pass, Passing},
		{fail, pass, Warning},
		{pass, fail, Warning},
		{pass, fail, Critical},
		{pass, pass, Passing},
	}
	for i, r := range rounds {
		h.give(a, r.a)
		h.give(b, r.b)
		h.waitRecorded(2)
		got, _ := h.r.Status("web")
		if got.State != r.want || got.State.Advertised() != (r.want <= Warning) {
			t.Fatalf("round %d: state %v, want %v", i, got.State, r.want)
		}
		h.nextRound(2)
	}
}

// TestRunnerChangesCoalesce checks that changes wait for the reader
// without blocking the checks, and that the reader gets the latest state.
func TestRunnerChangesCoalesce(t *testing.T) {
	h := newHarness(t)
	const spec = "tcp://192.0.2.1:80"
	h.add("web", spec)
	h.add("db", spec+"0")
	for _, res := range []Result{pass, fail, fail, pass, fail, fail} { // nobody reads meanwhile
		h.give(spec, res)
		h.give(spec+"0", pass)
		h.nextRound(2)
	}
	select {
	case <-h.r.Notify():
	default:
		t.Fatal("no notification pending")
	}
	got := h.r.Changes()
	if len(got) != 2 || got[0].ID != "db" || got[0].State != Passing || got[1].ID != "web" || got[1].State != Critical {
		t.Fatalf("Changes = %+v, want db passing and web critical", got)
	}
	if got := h.r.Changes(); got != nil {
		t.Fatalf("second Changes = %+v, want none", got)
	}
}

func TestRunnerRemoveAndClose(t *testing.T) {
	h := newHarness(t)
	const spec = "tcp://192.0.2.1:80"
	h.add("web", spec)
	h.give(spec, pass)
	h.waitRecorded(1)
	h.r.Remove("web") // its state change is still unread
	if got := h.r.Changes(); got != nil {
		t.Fatalf("Changes after Remove = %+v, want none", got)
	}
	if _, ok := h.r.Status("web"); ok {
		t.Fatal("Status found a removed entry")
	}
	h.r.Remove("web") // no-op

	h.add("web", spec) // the ID is free again; its run is in flight
	lab.Eventually(t, 10*time.Second, "the run to start", func() error {
		if n := h.running.Load(); n != 1 {
			return fmt.Errorf("%d running", n)
		}
		return nil
	})
	h.r.Close()
	if n := h.running.Load(); n != 0 {
		t.Fatalf("Close returned with %d runs in flight", n)
	}
	h.r.Close()
	if _, ok := <-h.r.Notify(); ok {
		// One wake-up from the first Add may be buffered; the next
		// receive must see the channel closed.
		if _, ok := <-h.r.Notify(); ok {
			t.Fatal("Notify not closed after Close")
		}
	}
	if err := h.r.Add("db", Entry{}); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("Add after Close: %v, want runner closed", err)
	}
	if got := h.r.List(); len(got) != 0 {
		t.Fatalf("List after Close = %+v", got)
	}
}

func TestRunnerAddErrors(t *testing.T) {
	r := NewRunner()
	defer r.Close()
	if err := r.Add("a", Entry{}); err != nil {
		t.Fatal(err)
	}
	if err := r.Add("a", Entry{}); err == nil || !strings.Contains(err.Error(), `"a": already added`) {
		t.Fatalf("second Add: %v", err)
	}
	if err := r.Add("b", Entry{Interval: -time.Second}); err == nil {
		t.Fatal("negative interval accepted")
	}
	// An entry without checks passes at once.
	if got := r.Changes(); len(got) != 1 || got[0].ID != "a" || got[0].State != Passing {
		t.Fatalf("Changes = %+v, want a passing", got)
	}
}
