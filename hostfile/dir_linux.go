package hostfile

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// isDir checks that root, just opened by the name dir, is the directory
// at dir, as the kernel names the open directory: a symbolic link swapped
// in on the way since dir was checked would have led elsewhere.
func isDir(root *os.Root, dir string) error {
	d, err := root.Open(".")
	if err != nil {
		return err
	}
	defer d.Close()
	got, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(d.Fd())))
	if err != nil {
		return sameDir(d, dir) // no /proc
	}
	want := dir
	if !filepath.IsAbs(want) {
		cwd, err := os.Readlink("/proc/self/cwd")
		if err != nil {
			return err
		}
		want = filepath.Join(cwd, want)
	}
	if filepath.Clean(got) != filepath.Clean(want) {
		return fmt.Errorf("hostfile: %s changed while being written (it now leads to %s): try again, or write elsewhere", dir, got)
	}
	return nil
}
