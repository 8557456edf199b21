package sdjoincmd

import (
	"slices"
	"strings"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/check"
	"github.com/ipfinder-go/ipfinder/internal/cliutil"
)

// Bounds of what a client may ask the agent to track and check.
const (
	maxSessions       = 96 // sessions at once, below maxConns so requests still get through
	maxSessionEntries = 32 // entries of one session
	maxEntryChecks    = 8  // checks of one entry
	minCheckInterval  = 100 * time.Millisecond
)

// trackSpec is one entry to track: a --track with its --meta and
// --check flags, a track request, or one entry of a session.
type trackSpec struct {
	service  string
	meta     map[string]string
	checks   []check.Spec
	interval time.Duration // of the checks; 0: check.DefaultInterval
	timeout  time.Duration // of each check run; 0: check.DefaultTimeout
}

// checkEntry returns the spec's check.Entry.
func (ts trackSpec) checkEntry() check.Entry {
	return check.Entry{Specs: ts.checks, Interval: ts.interval, Timeout: ts.timeout}
}

// sameChecks reports whether a and b check the same way.
func sameChecks(a, b trackSpec) bool {
	return a.interval == b.interval && a.timeout == b.timeout &&
		slices.EqualFunc(a.checks, b.checks, func(x, y check.Spec) bool { return x.String() == y.String() })
}

// validate checks the service, the meta and the check timing.
func (ts trackSpec) validate() error {
	if err := checkService(ts.service); err != nil {
		return err
	}
	if err := checkMeta(ts.service, ts.meta); err != nil {
		return err
	}
	if len(ts.checks) > maxEntryChecks {
		return cliutil.Usagef("%s has %d checks, limit %d", ts.service, len(ts.checks), maxEntryChecks)
	}
	return checkTiming(ts.interval, ts.timeout)
}

// checkTiming refuses a check interval under minCheckInterval and a
// negative timeout (0 is the default of each).
func checkTiming(interval, timeout time.Duration) error {
	if interval != 0 && interval < minCheckInterval {
		return cliutil.Usagef("bad --check-interval %s: at least %s", interval, minCheckInterval)
	}
	if timeout < 0 {
		return cliutil.Usagef("bad --check-timeout %s: must be positive", timeout)
	}
	return nil
}

// wireEntry is a trackSpec in the control protocol.
type wireEntry struct {
	Service    string            `json:"service"`
	Meta       map[string]string `json:"meta,omitempty"`
	Checks     []string          `json:"checks,omitempty"`
	IntervalMS int64             `json:"interval_ms,omitempty"`
	TimeoutMS  int64             `json:"timeout_ms,omitempty"`
}

func (ts trackSpec) wire() wireEntry {
	w := wireEntry{Service: ts.service, Meta: ts.meta,
		IntervalMS: ts.interval.Milliseconds(), TimeoutMS: ts.timeout.Milliseconds()}
	for _, s := range ts.checks {
		w.Checks = append(w.Checks, s.String())
	}
	return w
}

// parseWireEntry parses and validates an entry of a request.
func parseWireEntry(w wireEntry) (trackSpec, error) {
	if w.IntervalMS < 0 || w.TimeoutMS < 0 {
		return trackSpec{}, cliutil.Usagef("bad request: negative interval or timeout")
	}
	ts := trackSpec{service: w.Service, meta: w.Meta,
		interval: time.Duration(w.IntervalMS) * time.Millisecond,
		timeout:  time.Duration(w.TimeoutMS) * time.Millisecond}
	for _, s := range w.Checks {
		spec, err := check.Parse(s)
		if err != nil {
			return trackSpec{}, cliutil.Usagef("%v", err)
		}
		ts.checks = append(ts.checks, spec)
	}
	return ts, ts.validate()
}

// redactSpec returns a check spec for display: the userinfo of a URL
// (http://user:password@host/) is replaced by "xxxxx".
func redactSpec(spec string) string {
	scheme, rest, ok := strings.Cut(spec, "://")
	if !ok || !strings.EqualFold(scheme, "http") && !strings.EqualFold(scheme, "https") {
		return spec
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndex(rest[:end], "@")
	if at < 0 {
		return spec
	}
	return scheme + "://xxxxx" + rest[at:]
}
