package check

import (
	"context"
	"io"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

// pipeGrace bounds how long an exec check reads output after its process
// group was killed: only a process that left the group (setsid) can still
// hold the pipe open.
const pipeGrace = 100 * time.Millisecond

func execSupported() error { return nil }

// runExec runs argv in a process group of its own, with stdin from
// /dev/null and stdout and stderr captured together, and passes when it
// exits 0. When ctx is done the whole group is killed; when the command
// exits, what is left of its group is killed too, so checks leave no
// processes behind.
func runExec(ctx context.Context, argv []string) Result {
	r, w, err := os.Pipe()
	if err != nil {
		return Result{Output: clean(err.Error())}
	}
	defer r.Close()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = w, w // an *os.File: Wait does not wait for readers
	// Pdeathsig kills the check if the agent dies. It fires when the
	// thread that forked exits, so this goroutine keeps its thread until
	// the check is reaped.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid) }
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	err = cmd.Start()
	w.Close()
	if err != nil {
		return Result{Output: clean(err.Error())}
	}
	out := make(chan string, 1)
	go func() {
		var t tailBuffer
		io.Copy(&t, r)
		out <- t.String()
	}()
	err = cmd.Wait()
	killGroup(cmd.Process.Pid)
	r.SetReadDeadline(time.Now().Add(pipeGrace))
	output := <-out
	if err == nil {
		return Result{Pass: true, Output: cleanTail(output, MaxOutput)}
	}
	return Result{Output: prefixed(err.Error(), output)}
}

// killGroup kills the process group pgid; one already gone is no error.
func killGroup(pgid int) error {
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && err != syscall.ESRCH {
		return err
	}
	return nil
}
