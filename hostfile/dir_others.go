//go:build !linux

package hostfile

import "os"

// isDir checks that root, just opened by the name dir, is the directory
// at dir (see sameDir).
func isDir(root *os.Root, dir string) error {
	d, err := root.Open(".")
	if err != nil {
		return err
	}
	defer d.Close()
	return sameDir(d, dir)
}
