package supervise

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
)

// Run runs argv[0] with the arguments argv[1:] (argv[0] is looked up in
// $PATH unless it contains a slash) and returns its exit status, or
// 128+n if signal n killed it. The command inherits stdin, stdout,
// stderr and the environment, and runs in a process group of its own.
// SIGINT, SIGTERM and SIGHUP sent to this process are forwarded to that
// group until the command exits, and so is SIGTERM when ctx is done.
// If this process dies first, even by SIGKILL, the command gets SIGTERM.
//
// A command that cannot be started gives status 127 (not found) or 126
// (found but not executable) and a one-line error; a nil error means the
// command ran, whatever its status.
func Run(ctx context.Context, argv []string) (int, error) {
	if len(argv) == 0 {
		return StatusNotFound, errors.New("no command given")
	}
	path, status, err := lookPath(argv[0])
	if err != nil {
		return status, err
	}
	cmd := exec.Command(path, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}

	sigs := make(chan os.Signal, len(forwarded))
	for _, s := range forwarded {
		signal.Notify(sigs, s)
	}
	defer signal.Stop(sigs)

	// The parent-death signal fires when the thread that forked exits,
	// not the process: a goroutine that exits while locked to its thread
	// (package rename and netns code do) ends that thread. Keep the
	// forking thread ours until the command is reaped.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cmd.Start(); err != nil {
		return StatusNotExecutable, fmt.Errorf("cannot run command %q: %v", argv[0], cause(err))
	}
	stop := forward(ctx, cmd.Process.Pid, sigs)
	err = cmd.Wait()
	stop()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return 1, fmt.Errorf("command %q: %w", argv[0], err)
	}
	return exitStatus(cmd.ProcessState.Sys().(syscall.WaitStatus)), nil
}

// forward sends the signals arriving on sigs, and SIGTERM when ctx is
// done, to the process group pgid until the returned stop is called.
func forward(ctx context.Context, pgid int, sigs <-chan os.Signal) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		ctxDone := ctx.Done()
		for {
			select {
			case s := <-sigs:
				syscall.Kill(-pgid, s.(syscall.Signal))
			case <-ctxDone:
				syscall.Kill(-pgid, syscall.SIGTERM)
				ctxDone = nil
			case <-done:
				return
			}
		}
	})
	return func() { close(done); wg.Wait() }
}
