package check

import (
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// fakeClock is a clock that moves only when Advance is called.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	at time.Time
	f  func()
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, x := range c.timers {
			if x == t {
				c.timers = append(c.timers[:i], c.timers[i+1:]...)
				return true
			}
		}
		return false
	}
}

// Advance moves the clock by d and fires the timers due, in time order.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due, rest []*fakeTimer
	for _, t := range c.timers {
		if t.at.After(c.now) {
			rest = append(rest, t)
		} else {
			due = append(due, t)
		}
	}
	c.timers = rest
	c.mu.Unlock()
	sort.SliceStable(due, func(i, j int) bool { return due[i].at.Before(due[j].at) })
	for _, t := range due {
		t.f()
	}
}

// waitTimers waits until n timers are set to fire at exactly at.
func (c *fakeClock) waitTimers(t *testing.T, at time.Time, n int) {
	t.Helper()
	lab.Eventually(t, 10*time.Second, fmt.Sprintf("%d timers at %s", n, at.Format(time.StampMilli)), func() error {
		c.mu.Lock()
		defer c.mu.Unlock()
		count := 0
		for _, x := range c.timers {
			if x.at.Equal(at) {
				count++
			}
		}
		if count != n {
			return fmt.Errorf("%d set", count)
		}
		return nil
	})
}
