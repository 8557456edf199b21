package hostfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// maxSize is the largest hostfile Parse and ReadFile read, in bytes: far
// more than the hosts of any LAN (a /16 of hosts in JSON is under 20 MiB),
// far less than what /dev/zero would feed a reader that does not stop.
const maxSize = 64 << 20

// ReadFile parses the hostfile at path; see Parse. It reads regular files
// only: a FIFO, a device or a directory is an error at once (opening a FIFO
// does not wait for a writer), and so is a file larger than 64 MiB. Like
// WriteFile, it refuses to follow a symbolic link that another user may
// have planted in a world-writable directory (see CheckPlanted).
func ReadFile(path string, opt *ParseOptions) ([]Host, error) {
	target, err := resolveLink(path)
	if err != nil {
		return nil, err
	}
	data, err := readRegular(target, path)
	if err != nil {
		return nil, err
	}
	return parse(data, path, opt)
}

// readRegular reads the regular file at path, which holds no symbolic
// link (see resolveLink), up to maxSize bytes. Its errors call the file
// name, the path the caller gave.
func readRegular(path, name string) ([]byte, error) {
	f, err := openNonblock(path)
	if err != nil {
		return nil, named(err, name)
	}
	defer f.Close()
	return readOpen(f, name)
}

// readRegularIn is readRegular for the file base in root.
func readRegularIn(root *os.Root, base, name string) ([]byte, error) {
	f, err := openNonblockIn(root, base)
	if err != nil {
		return nil, named(err, name)
	}
	defer f.Close()
	return readOpen(f, name)
}

// named makes a path error name the path the caller gave.
func named(err error, name string) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		pe.Path = name
	}
	return err
}

// readOpen reads f, opened by openNonblock or openNonblockIn, if it is a
// regular file.
func readOpen(f *os.File, path string) ([]byte, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("hostfile: %s is %s, not a regular file: give the path of a hostfile", path, fileKind(fi.Mode()))
	}
	if fi.Size() > maxSize {
		return nil, tooLarge(path)
	}
	if err := clearNonblock(f); err != nil {
		return nil, fmt.Errorf("hostfile: %s: %w", path, err)
	}
	return readAtMost(f, path, fi.Size())
}

// readAtMost reads r to its end, failing when it holds more than maxSize
// bytes. name names r in the error; size, if known, is how much r holds.
func readAtMost(r io.Reader, name string, size int64) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(int(min(max(size, 0), maxSize)) + bytes.MinRead)
	if _, err := buf.ReadFrom(io.LimitReader(r, maxSize+1)); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	if len(data) > maxSize {
		return nil, tooLarge(name)
	}
	return data, nil
}

func tooLarge(name string) error {
	if name == "" {
		name = "input"
	}
	return fmt.Errorf("hostfile: %s is larger than %d MiB: it is no hostfile, check the path", name, maxSize>>20)
}

// fileKind names the type of a file that is not regular.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	}
	return "not a regular file"
}
