//go:build !unix

package sdjoincmd

import "os"

// inode is not available on this platform: the hostfile poll compares
// size and modification time only.
func inode(os.FileInfo) uint64 { return 0 }

// fileOwner is not available on this platform.
func fileOwner(os.FileInfo) (int, bool) { return 0, false }

// openNonBlocking opens path for reading.
func openNonBlocking(path string) (*os.File, error) { return os.Open(path) }

// fileLimit is not available on this platform.
func fileLimit() (uint64, bool) { return 0, false }
