package supervise

import (
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"syscall"
)

// Exit statuses of a command that could not be started, as sh uses them.
const (
	StatusNotExecutable = 126
	StatusNotFound      = 127
)

// forwarded are the signals Run passes on to the command.
var forwarded = []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP}

// lookPath finds the command name and, if it cannot run, returns the
// status a shell would exit with and a one-line error naming the fix.
func lookPath(name string) (string, int, error) {
	path, err := exec.LookPath(name)
	switch {
	case err == nil:
		return path, 0, nil
	case errors.Is(err, exec.ErrNotFound), errors.Is(err, fs.ErrNotExist):
		return "", StatusNotFound, fmt.Errorf("command %q not found: check its name and $PATH", name)
	case errors.Is(err, fs.ErrPermission):
		return "", StatusNotExecutable, fmt.Errorf("command %q is not executable: chmod +x it", name)
	}
	return "", StatusNotExecutable, fmt.Errorf("cannot run command %q: %v", name, cause(err))
}

// cause returns the error err wraps, or err.
func cause(err error) error {
	if u := errors.Unwrap(err); u != nil {
		return u
	}
	return err
}

// exitStatus returns the status a shell reports for a finished command:
// its exit code, or 128+n if signal n killed it.
func exitStatus(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}
