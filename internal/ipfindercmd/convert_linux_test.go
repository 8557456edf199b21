//go:build linux

package ipfindercmd_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ipfinder-go/ipfinder/internal/cliutil"
	"github.com/ipfinder-go/ipfinder/internal/ipfindercmd"
	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// startConvert starts the ipfinder binary running convert -o out with args,
// with stdin as its standard input.
func startConvert(t *testing.T, stdin *os.File, out string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(ipfinderBin, append([]string{"convert", "-o", out}, args...)...)
	cmd.Stdin = stdin
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd, &stderr
}

// checkInterrupted sends sig to cmd and checks that it exits 1 within a
// bound, with one line on stderr, leaving out as it was.
func checkInterrupted(t *testing.T, cmd *exec.Cmd, stderr *bytes.Buffer, sig os.Signal, out string) {
	t.Helper()
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var err error
	select {
	case err = <-exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("convert still running 10s after %v", sig)
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("exit %v, want 1", err)
	}
	if got := stderr.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, "interrupted while reading") {
		t.Errorf("stderr %q: want one line saying it was interrupted", got)
	}
	if got, _ := os.ReadFile(out); string(got) != "old\n" {
		t.Errorf("output holds %q, want it untouched", got)
	}
}

func TestConvertStopsOnSignal(t *testing.T) {
	partial := []byte("192.0.2.1 alpha\n192.0.2.2 be")
	t.Run("fifo_sigint", func(t *testing.T) {
		dir := t.TempDir()
		out := filepath.Join(dir, "out")
		writeFile(t, out, "old\n")
		fifo := filepath.Join(dir, "fifo")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd, stderr := startConvert(t, nil, out, fifo)
		var w *os.File
		lab.Eventually(t, 20*time.Second, "convert to open the FIFO", func() error { // ENXIO until a reader has it open
			var err error
			w, err = os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
			return err
		})
		defer w.Close()
		if _, err := w.Write(partial); err != nil {
			t.Fatal(err)
		}
		checkInterrupted(t, cmd, stderr, os.Interrupt, out)
	})
	t.Run("stdin_sigterm", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out")
		writeFile(t, out, "old\n")
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		defer w.Close()
		cmd, stderr := startConvert(t, r, out, "-")
		if _, err := w.Write(partial); err != nil {
			t.Fatal(err)
		}
		// Once convert has read what is in the pipe, it is past wiring
		// its signals.
		lab.Eventually(t, 20*time.Second, "convert to read stdin", func() error {
			n, err := unix.IoctlGetInt(int(w.Fd()), unix.TIOCINQ) // FIONREAD
			if err == nil && n != 0 {
				err = fmt.Errorf("%d bytes unread", n)
			}
			return err
		})
		checkInterrupted(t, cmd, stderr, syscall.SIGTERM, out)
	})
}

func TestConvertRefusesPlantedSymlink(t *testing.T) {
	if os.Geteuid() != 0 {
		lab.SkipOrFail(t, "planting a link owned by another user needs root")
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	writeFile(t, in, "192.0.2.10 alpha\n")
	link, victim := lab.PlantedLink(t, 12345)
	var stdout, stderr bytes.Buffer
	code := cliutil.Run(context.Background(), ipfindercmd.App(&stdout, &stderr), []string{"ipfinder", "convert", "-o", link, in})
	if code != 1 || strings.Count(stderr.String(), "\n") != 1 || !strings.Contains(stderr.String(), "refusing to follow symbolic link "+link) {
		t.Errorf("exit %d, stderr %q; want 1 and one line refusing %s", code, stderr.String(), link)
	}
	if got, _ := os.ReadFile(victim); string(got) != "precious\n" {
		t.Errorf("victim holds %q", got)
	}
}
