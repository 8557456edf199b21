//go:build !unix

package hostfile

import "os"

// openNonblock opens path for reading; there are no FIFOs to block on.
func openNonblock(path string) (*os.File, error) { return os.Open(path) }

// clearNonblock does nothing: openNonblock opened f in blocking mode.
func clearNonblock(*os.File) error { return nil }
