package lab

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// fatalTB records the first Fatalf and stops its goroutine, as testing.T does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// eventually runs Eventually on a fatalTB and returns its failure, if any.
func eventually(within time.Duration, cond func() error) string {
	tb := new(fatalTB)
	done := make(chan struct{})
	go func() {
		defer close(done)
		Eventually(tb, within, "the thing", cond)
	}()
	<-done
	return tb.msg
}

func TestEventually_returns_once_cond_holds(t *testing.T) {
	calls := 0
	msg := eventually(10*time.Second, func() error {
		if calls++; calls < 4 {
			return errors.New("not yet")
		}
		return nil
	})
	if msg != "" || calls != 4 {
		t.Errorf("failure %q after %d calls, want none after 4", msg, calls)
	}
}

func TestEventually_fails_with_last_error(t *testing.T) {
	calls := 0
	start := time.Now()
	msg := eventually(100*time.Millisecond, func() error {
		calls++
		return fmt.Errorf("attempt %d", calls)
	})
	if took := time.Since(start); took < 100*time.Millisecond {
		t.Errorf("gave up after %v, want 100ms", took)
	}
	want := fmt.Sprintf("timed out after 100ms waiting for the thing: attempt %d", calls)
	if msg != want {
		t.Errorf("failure %q, want %q", msg, want)
	}
	if calls < 3 {
		t.Errorf("cond called %d times in 100ms, want polling", calls)
	}
}

// TestEventually_checks_at_deadline: a condition that comes true just as
// time runs out passes; Eventually checks once more at the deadline.
func TestEventually_checks_at_deadline(t *testing.T) {
	const within = 50 * time.Millisecond
	start := time.Now()
	msg := eventually(within, func() error {
		if time.Since(start) < within {
			return errors.New("too early")
		}
		return nil
	})
	if msg != "" {
		t.Errorf("failed: %s", msg)
	}
	if !strings.Contains(eventually(0, func() error { return errors.New("never") }), "never") {
		t.Error("within 0: no failure naming the last error")
	}
}

// within runs Within on a fatalTB and returns its failure and fn's error.
func within(d time.Duration, fn func() error) (string, error) {
	tb := new(fatalTB)
	done := make(chan struct{})
	var err error
	go func() {
		defer close(done)
		err = Within(tb, d, "the call", fn)
	}()
	<-done
	return tb.msg, err
}

func TestWithin(t *testing.T) {
	boom := errors.New("boom")
	msg, err := within(10*time.Second, func() error { return boom })
	if err != boom || msg != "" {
		t.Errorf("returning call: err %v, failure %q; want boom and none", err, msg)
	}
	block := make(chan struct{})
	defer close(block)
	msg, _ = within(20*time.Millisecond, func() error { <-block; return nil })
	if want := "the call still blocked after 20ms"; msg != want {
		t.Errorf("blocking call: failure %q, want %q", msg, want)
	}
}

func TestPollEndsAtStopPolling(t *testing.T) {
	gone := errors.New("gone")
	calls := 0
	err := poll(10*time.Second, func() error {
		if calls++; calls < 3 {
			return errors.New("not yet")
		}
		return stopPolling{gone}
	})
	if err != gone || calls != 3 {
		t.Errorf("poll = %v after %d calls, want gone after 3", err, calls)
	}
}
