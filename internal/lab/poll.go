package lab

import (
	"errors"
	"time"
)

// stopPolling wraps an error that ends poll at once: the awaited thing can
// no longer happen.
type stopPolling struct{ err error }

func (s stopPolling) Error() string { return s.err.Error() }

// poll calls try until it returns nil or within has passed, and returns its
// last error (unwrapped from stopPolling, which ends it early). It waits
// between calls from 1 ms growing to 100 ms, never past the deadline, and
// calls try once more at the deadline.
func poll(within time.Duration, try func() error) error {
	deadline := time.Now().Add(within)
	for wait := time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
		err := try()
		var stop stopPolling
		if errors.As(err, &stop) {
			return stop.err
		}
		left := time.Until(deadline)
		if err == nil || left <= 0 {
			return err
		}
		time.Sleep(min(wait, left))
	}
}
