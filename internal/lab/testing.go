package lab

import (
	"context"
	"os"
	"os/exec"
	"testing"
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
