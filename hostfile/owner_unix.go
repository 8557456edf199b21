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

// ownerOf returns the user ID that owns the file described by fi.
func ownerOf(fi fs.FileInfo) (uid int, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}
