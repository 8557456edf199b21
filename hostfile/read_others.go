//go:build !unix

package hostfile

import "os"

// openNonblock opens path for reading; there are no FIFOs to block on.
func openNonblock(path string) (*os.File, error) { return os.Open(path) }

// openNonblockIn opens name in root for reading.
func openNonblockIn(root *os.Root, name string) (*os.File, error) { return root.Open(name) }

// clearNonblock does nothing: openNonblock opened f in blocking mode.
func clearNonblock(*os.File) error { return nil }
