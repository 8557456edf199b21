//go:build unix

package hostfile

import (
	"io/fs"
	"os"
	"syscall"
)

// chownLike gives f the owner and group of the file described by old.
func chownLike(f *os.File, old fs.FileInfo) error {
	st, ok := old.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	return f.Chown(int(st.Uid), int(st.Gid))
}
