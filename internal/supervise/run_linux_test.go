package supervise

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// helperEnv makes the test binary act as the supervisor: it runs its
// arguments with Run and exits with the status (see TestMain).
const helperEnv = "SUPERVISE_TEST_HELPER"

// churnEnv makes the supervisor end OS threads while it runs, then create
// the file it names.
const churnEnv = "SUPERVISE_TEST_CHURN_DONE"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "" {
		os.Exit(m.Run())
	}
	if done := os.Getenv(churnEnv); done != "" {
		go func() {
			churnThreads()
			os.WriteFile(done, []byte("done\n"), 0o644)
		}()
	}
	status, err := Run(context.Background(), os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(status)
}

// churnThreads ends OS threads: a goroutine that exits while locked to its
// thread takes the thread with it.
func churnThreads() {
	for range 2000 {
		done := make(chan struct{})
		go func() {
			runtime.LockOSThread()
			close(done)
		}()
		<-done
		time.Sleep(time.Millisecond)
	}
}

// supervisor starts the test binary as a supervisor of argv, with extra
// environment variables env.
func supervisor(t *testing.T, env []string, argv ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], argv...)
	cmd.Env = append(append(os.Environ(), helperEnv+"=1"), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = time.Second // a surviving child may hold stderr open
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, &stderr
}

// wait waits for the supervisor to exit and returns its exit status.
func wait(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("supervisor did not exit")
	}
	return cmd.ProcessState.ExitCode()
}

func TestRunExitStatus(t *testing.T) {
	tests := []struct {
		name   string
		argv   []string
		status int
	}{
		{"zero", []string{"true"}, 0},
		{"three", []string{"sh", "-c", "exit 3"}, 3},
		{"killed_by_sigkill", []string{"sh", "-c", "kill -KILL $$"}, 128 + 9},
		{"killed_by_sigterm", []string{"sh", "-c", "kill -TERM $$"}, 128 + 15},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Run(t.Context(), tt.argv)
			if err != nil || got != tt.status {
				t.Errorf("Run(%q) = %d, %v, want %d", tt.argv, got, err, tt.status)
			}
			// The same through a supervisor process.
			cmd, stderr := supervisor(t, nil, tt.argv...)
			if got := wait(t, cmd); got != tt.status {
				t.Errorf("supervisor of %q exited %d, want %d; stderr %q", tt.argv, got, tt.status, stderr)
			}
		})
	}
}

func TestRunCannotStart(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "script")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\nexit 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		argv   []string
		status int
		err    string
	}{
		{"not_in_path", []string{"no-such-command-xyz", "-v"}, 127, `command "no-such-command-xyz" not found: check its name and $PATH`},
		{"no_such_file", []string{filepath.Join(dir, "missing")}, 127, "not found"},
		{"not_executable", []string{notExec}, 126, fmt.Sprintf("command %q is not executable: chmod +x it", notExec)},
		{"directory", []string{dir}, 126, "cannot run command"},
		{"empty", nil, 127, "no command given"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Run(t.Context(), tt.argv)
			if got != tt.status || err == nil || !strings.Contains(err.Error(), tt.err) || strings.Contains(err.Error(), "\n") {
				t.Errorf("Run(%q) = %d, %v, want %d and %q", tt.argv, got, err, tt.status, tt.err)
			}
		})
	}
}

// trapScript traps sig, reports its pid in file once the trap is set and
// waits; the trap exits 42.
func trapScript(sig, file string) []string {
	return []string{"sh", "-c", fmt.Sprintf(`trap 'exit 42' %s; echo $$ > %s; while :; do sleep 0.05; done`, sig, file)}
}

func TestRunForwardsSignals(t *testing.T) {
	for _, tt := range []struct {
		name string
		sig  syscall.Signal
	}{{"TERM", syscall.SIGTERM}, {"INT", syscall.SIGINT}, {"HUP", syscall.SIGHUP}} {
		name, sig := tt.name, tt.sig
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "pid")
			cmd, stderr := supervisor(t, nil, trapScript(name, file)...)
			readPID(t, file)
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if got := wait(t, cmd); got != 42 {
				t.Fatalf("supervisor exited %d after %v, want 42 (the child's trap); stderr %q", got, sig, stderr)
			}
		})
	}
}

func TestRunContextDoneTerminates(t *testing.T) {
	file := filepath.Join(t.TempDir(), "pid")
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		readPID(t, file)
		cancel()
	}()
	if got, err := Run(ctx, trapScript("TERM", file)); got != 42 || err != nil {
		t.Fatalf("Run = %d, %v, want 42 from the TERM trap", got, err)
	}
}

// TestRunSupervisorKilled checks that the command dies with a supervisor
// killed by SIGKILL.
func TestRunSupervisorKilled(t *testing.T) {
	for _, churn := range []bool{false, true} {
		t.Run(fmt.Sprint("churn_threads_", churn), func(t *testing.T) {
			dir := t.TempDir()
			file, churned := filepath.Join(dir, "pid"), filepath.Join(dir, "churned")
			var env []string
			if churn {
				env = []string{churnEnv + "=" + churned}
			}
			cmd, _ := supervisor(t, env, "sh", "-c", fmt.Sprintf("echo $$ > %s; exec sleep 60", file))
			child := readPID(t, file)
			if churn { // threads ended meanwhile: the child must live on
				readFile(t, churned)
				if gone(child) {
					t.Fatal("child died while the supervisor ended threads")
				}
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			wait(t, cmd)
			deadline := time.Now().Add(10 * time.Second)
			for !gone(child) {
				if time.Now().After(deadline) {
					syscall.Kill(child, syscall.SIGKILL)
					t.Fatalf("child %d outlived its SIGKILLed supervisor", child)
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
}

// readPID reads the pid a child wrote to file, waiting for it.
func readPID(t *testing.T, file string) int {
	t.Helper()
	b := readFile(t, file)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid file %q", b)
	}
	return pid
}

// readFile waits up to 10 s for file to end in a newline, and returns its
// content.
func readFile(t *testing.T, file string) []byte {
	t.Helper()
	var b []byte
	lab.Eventually(t, 10*time.Second, file+" written (the child died early?)", func() error {
		var err error
		if b, err = os.ReadFile(file); err == nil && !bytes.HasSuffix(b, []byte("\n")) {
			err = fmt.Errorf("no line yet: %q", b)
		}
		return err
	})
	return b
}

// gone reports whether process pid has exited (a zombie counts).
func gone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if errors.Is(err, os.ErrNotExist) {
		return true
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && len(b) > i+2 && b[i+2] == 'Z'
}

func TestRunInheritsStdio(t *testing.T) {
	cmd := exec.Command(os.Args[0], "sh", "-c", "tr a-z A-Z; echo to-stderr >&2")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	cmd.Stdin = strings.NewReader("hello\n")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatal(err, stderr.String())
	}
	if stdout.String() != "HELLO\n" || stderr.String() != "to-stderr\n" {
		t.Fatalf("stdout %q, stderr %q", stdout.String(), stderr.String())
	}
}
