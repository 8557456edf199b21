package check

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/lab"
)

func TestExecCheck(t *testing.T) {
	tests := []struct {
		name, spec string
		pass       bool
		out        string
	}{
		{"true", "exec:true", true, ""},
		{"false", "exec:false", false, "exit status 1"},
		{"output_kept_and_escaped", `exec:sh -c 'echo out; printf "err\033\n" >&2; exit 3'`, false, `exit status 3: out\nerr\x1b`},
		{"passing_output", `exec:echo "ready to serve"`, true, "ready to serve"},
		{"missing_binary", "exec:no-such-check-binary --flag", false, `exec: "no-such-check-binary": executable file not found in $PATH`},
		{"missing_path", "exec:/nonexistent/check", false, "fork/exec /nonexistent/check: no such file or directory"},
		{"killed_by_signal", `exec:sh -c 'kill -TERM $$'`, false, "signal: terminated"},
		{"long_output_keeps_tail", `exec:sh -c 'seq 1 100000; exit 1'`, false, `exit status 1: ...`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := runSpec(t, tt.spec, 5*time.Second)
			if res.Pass != tt.pass || res.Output != tt.out && !(tt.out != "" && strings.HasPrefix(res.Output, tt.out)) {
				t.Errorf("got %+v, want pass %v, output %q", res, tt.pass, tt.out)
			}
			if len(res.Output) > MaxOutput {
				t.Errorf("output is %d bytes", len(res.Output))
			}
		})
	}
	if res := runSpec(t, `exec:sh -c 'seq 1 100000; exit 1'`, 5*time.Second); !strings.HasSuffix(res.Output, `99999\n100000`) {
		t.Errorf("long output does not end with the last lines: ...%s", res.Output[len(res.Output)-40:])
	}
}

// TestExecCheckTimeoutKillsGroup checks that a command hanging past the
// timeout is killed together with its children.
func TestExecCheckTimeoutKillsGroup(t *testing.T) {
	pids := filepath.Join(t.TempDir(), "pids")
	spec := fmt.Sprintf(`exec:sh -c 'sleep 60 & echo $$ $! > %s; echo started; sleep 60'`, pids)
	r := startRunner(t, spec, 300*time.Millisecond)
	c := waitState(t, r, Pending, "timed out after 300ms: signal: killed: started")
	if c.Failures < 1 {
		t.Errorf("check: %+v", c)
	}
	for _, pid := range readPIDs(t, pids) {
		waitGone(t, pid)
	}
}

// TestExecCheckLeavesNothingBehind checks that a check that exits leaving
// a background child behind passes at once and the child is killed.
func TestExecCheckLeavesNothingBehind(t *testing.T) {
	start := time.Now()
	res := runSpec(t, `exec:sh -c 'sleep 60 & echo $!'`, 5*time.Second)
	if !res.Pass || time.Since(start) > time.Second {
		t.Fatalf("got %+v after %v", res, time.Since(start))
	}
	pid, err := strconv.Atoi(res.Output)
	if err != nil {
		t.Fatal(err)
	}
	waitGone(t, pid)
}

func readPIDs(t *testing.T, file string) []int {
	t.Helper()
	var pids []int
	lab.Eventually(t, 10*time.Second, "pid file "+file, func() error {
		b, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		if !bytes.HasSuffix(b, []byte("\n")) {
			return fmt.Errorf("no line yet: %q", b)
		}
		pids = nil
		for _, f := range strings.Fields(string(b)) {
			pid, err := strconv.Atoi(f)
			if err != nil {
				t.Fatalf("pid file: %q", b)
			}
			pids = append(pids, pid)
		}
		return nil
	})
	return pids
}

// waitGone waits until process pid has exited (a zombie counts: whoever
// adopted it may not reap it).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	lab.Eventually(t, 10*time.Second, fmt.Sprintf("process %d to exit", pid), func() error {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return nil
		}
		if i := bytes.LastIndexByte(b, ')'); i > 0 && len(b) > i+2 && b[i+2] == 'Z' {
			return nil
		}
		return fmt.Errorf("running: %s", b)
	})
}

// TestRunnerMissingBinary checks that a check that cannot run is a failing
// check with the reason, not a crash.
func TestRunnerMissingBinary(t *testing.T) {
	r := startRunner(t, "exec:no-such-check-binary", time.Second)
	c := waitState(t, r, Pending, `exec: "no-such-check-binary": executable file not found in $PATH`)
	lab.Eventually(t, 10*time.Second, "a second failure", func() error {
		s, _ := r.Status("e")
		c = s.Checks[0]
		if c.Failures < 2 {
			return fmt.Errorf("%d failures", c.Failures)
		}
		return nil
	})
	if c.State != Pending || c.Time.IsZero() {
		t.Fatalf("check: %+v", c)
	}
}
