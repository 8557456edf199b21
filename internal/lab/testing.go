package lab

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

// SkipOrFail skips the test with msg, or fails it when the environment has
// CI=true, where every prerequisite (root, every tool) is expected to be
// present.
func SkipOrFail(tb testing.TB, msg string) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg + " (CI=true: not skipping)")
	}
	tb.Skip(msg)
}

// NeedTools skips the test when one of the programs tools is not on PATH,
// or fails it under CI=true (see [SkipOrFail]).
func NeedTools(tb testing.TB, tools ...string) {
	tb.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			SkipOrFail(tb, tool+" not installed")
		}
	}
}

// Shell runs script with `sh -c` in h's namespace and returns its output,
// stdout and stderr together. It fails the test when the script fails.
func Shell(tb testing.TB, h *Host, script string) string {
	tb.Helper()
	out, err := h.Command(context.Background(), "sh", "-c", script).CombinedOutput()
	if err != nil {
		tb.Fatalf("%s: %q: %v\n%s", h.Name, script, err, out)
	}
	return string(out)
}

// Eventually calls cond until it returns nil, and fails the test with what
// and cond's last error when it still fails after within. It polls at an
// interval growing from 1 ms to 100 ms and never sleeps past the deadline.
func Eventually(tb testing.TB, within time.Duration, what string, cond func() error) {
	tb.Helper()
	if err := poll(within, cond); err != nil {
		tb.Fatalf("timed out after %v waiting for %s: %v", within, what, err)
	}
}

// Within returns what fn returns, or fails the test when fn has not
// returned after d: for calls that must not block (what names the call).
// fn keeps running in its goroutine after a failure.
func Within(tb testing.TB, d time.Duration, what string, fn func() error) error {
	tb.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		tb.Fatalf("%s still blocked after %v", what, d)
		return nil
	}
}
