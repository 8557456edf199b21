//go:build unix

package hostfile

import (
	"os"
	"syscall"
)

// openFlags open a file for reading without blocking on a FIFO that has
// no writer, without making a terminal the controlling one, and without
// following a symbolic link (the path was resolved: one there now was
// swapped in since).
const openFlags = os.O_RDONLY | syscall.O_NONBLOCK | syscall.O_NOCTTY | syscall.O_NOFOLLOW

// openNonblock opens path for reading with openFlags.
func openNonblock(path string) (*os.File, error) { return os.OpenFile(path, openFlags, 0) }

// openNonblockIn opens name in root for reading with openFlags.
func openNonblockIn(root *os.Root, name string) (*os.File, error) {
	return root.OpenFile(name, openFlags, 0)
}

// clearNonblock puts f back into blocking mode.
func clearNonblock(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = syscall.SetNonblock(int(fd), false) }); err != nil {
		return err
	}
	return serr
}
