//go:build linux

package sdjoincmd

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// shutdownBound is how soon after SIGTERM an agent must have exited:
// about 1 s for the leave broadcast, then exit.
const shutdownBound = 2500 * time.Millisecond

// startStalledStdout runs an agent whose stdout is a pipe nobody reads,
// and tracks services until the pipe is full, so the agent's writes to
// stdout block.
func startStalledStdout(t *testing.T) *binAgent {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	a := startBinAgent(t, w, "--hostfile", filepath.Join(t.TempDir(), "none"), "--track", "s0")
	w.Close()
	pad := "pad=" + strings.Repeat("x", 900)
	for i := 1; i <= 100; i++ {
		if code, _, errs := runCLI(t.Context(), "track", fmt.Sprintf("s%d", i), "--meta", pad, "--socket", a.sock); code != 0 {
			t.Fatalf("track s%d: exit %d: %s", i, code, errs)
		}
	}
	waitFor(t, 10*time.Second, "stdout's pipe to fill up", func() bool { return pipeBytes(t, r) >= 60000 })
	return a
}

// pipeBytes returns how many bytes wait in the pipe r.
func pipeBytes(t *testing.T, r *os.File) int {
	var n int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, r.Fd(), syscall.TIOCINQ, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Fatalf("FIONREAD: %v", e)
	}
	return int(n)
}

// TestBinaryStdoutPipeUnread: with stdout a pipe nobody reads, SIGTERM
// still makes the agent exit 0 promptly.
func TestBinaryStdoutPipeUnread(t *testing.T) {
	t.Parallel()
	a := startStalledStdout(t)
	took := a.exitWithin(t, a.signal(t, syscall.SIGTERM), 10*time.Second)
	if took > shutdownBound {
		t.Errorf("exited %v after SIGTERM, want under %v", took, shutdownBound)
	}
	if code := a.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	t.Logf("stdout unread: exited %v after SIGTERM", took.Round(time.Millisecond))
}

// TestBinarySecondSignalExitsAtOnce: while the agent shuts down (here
// waiting to flush stdout into a full pipe), another SIGTERM ends it.
func TestBinarySecondSignalExitsAtOnce(t *testing.T) {
	t.Parallel()
	a := startStalledStdout(t)
	a.signal(t, syscall.SIGTERM)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(5 * time.Second)
	for running := true; running; {
		select {
		case <-a.exited:
			running = false
		case <-tick.C:
			a.cmd.Process.Signal(syscall.SIGTERM)
		case <-deadline:
			t.Fatal("agent still running 5 s after repeated SIGTERMs")
		}
	}
	ws := a.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
		t.Errorf("agent ended with %v, want killed by the second SIGTERM", a.cmd.ProcessState)
	}
}

// TestBinaryKeyFileFIFO: a FIFO as key file is refused at once, not
// waited on.
func TestBinaryKeyFileFIFO(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "key")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--key-file", fifo, "--socket", filepath.Join(dir, "a.sock"),
		"--no-discover", "--bind", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "--hostfile", filepath.Join(dir, "none"))
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "not a regular file") {
			t.Errorf("sdjoin --key-file FIFO: %v, stderr %q; want exit 1 naming a non-regular file", err, stderr.String())
		}
	case <-time.After(3 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatal("sdjoin --key-file FIFO still running after 3 s: it waits on the FIFO")
	}
}

// TestBinarySIGHUPReloads: SIGHUP re-reads the hostfile and the key file
// (the hostfile poll is off here), and the agent keeps running.
func TestBinarySIGHUPReloads(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	k1, k2 := hex.EncodeToString(testKey), hex.EncodeToString([]byte("fedcba9876543210fedcba9876543210"))
	keyA, keyB := filepath.Join(dir, "a.key"), filepath.Join(dir, "b.key")
	writeFile(t, keyA, k1)
	writeFile(t, keyB, k2)
	hostsA, none := filepath.Join(dir, "hosts"), filepath.Join(dir, "none")
	writeFile(t, hostsA, "")
	b := startBinAgent(t, nil, "--name", "b", "--key-file", keyB, "--hostfile", none, "--track", "svcb")
	a := startBinAgent(t, nil, "--name", "a", "--key-file", keyA, "--hostfile", hostsA, "--track", "svca",
		"--hostfile-poll", "1h", "--retry-interval", "1h")

	a.signal(t, syscall.SIGHUP)
	waitFor(t, 5*time.Second, "the agent reporting the SIGHUP", func() bool {
		select {
		case <-a.exited:
			t.Fatalf("SIGHUP ended the agent: %v", a.cmd.ProcessState)
		default:
		}
		return strings.Contains(a.stderr.String(), "sdjoin: SIGHUP")
	})

	writeFile(t, hostsA, fmt.Sprintf("127.0.0.1:%d\n", b.port))
	writeFile(t, keyA, k2)
	a.signal(t, syscall.SIGHUP)
	waitFor(t, 8*time.Second, "a listing b's entry after SIGHUP with b's key and address", func() bool {
		code, out, _ := runCLI(t.Context(), "list", "svcb", "--socket", a.sock)
		return code == 0 && strings.Contains(out, "b@127.0.0.1")
	})

	took := a.exitWithin(t, a.signal(t, syscall.SIGTERM), 5*time.Second)
	if code := a.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	if _, err := os.Stat(a.sock); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}
	t.Logf("SIGTERM after reloads: exited in %v", took.Round(time.Millisecond))
}

// TestBinaryHostfileNotRegular: a FIFO or /dev/zero as hostfile is
// refused with a warning (not read: the FIFO would block the agent,
// /dev/zero fill its memory), and SIGTERM still ends the agent promptly.
func TestBinaryHostfileNotRegular(t *testing.T) {
	t.Parallel()
	fifo := filepath.Join(t.TempDir(), "hosts")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{fifo, "/dev/zero"} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			a := startBinAgent(t, nil, "--hostfile", path, "--track", "svc")
			waitFor(t, 5*time.Second, "a warning about the hostfile", func() bool {
				return strings.Contains(a.stderr.String(), "is not a regular file")
			})
			took := a.exitWithin(t, a.signal(t, syscall.SIGTERM), 10*time.Second)
			if took > shutdownBound || a.cmd.ProcessState.ExitCode() != 0 {
				t.Errorf("exited %v (%v) after SIGTERM, want 0 within %v", took, a.cmd.ProcessState, shutdownBound)
			}
		})
	}
}
