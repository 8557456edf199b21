//go:build !unix

package hostfile

import (
	"io/fs"
	"os"
)

// chownLike does nothing where files have no Unix owner.
func chownLike(*os.File, fs.FileInfo) error { return nil }

// ownerOf reports no owner where files have no Unix owner.
func ownerOf(fs.FileInfo) (uid int, ok bool) { return 0, false }
