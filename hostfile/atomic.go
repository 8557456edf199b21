package hostfile

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// WriteFile replaces the file at path with hosts in format f, so that
// readers see either the old or the new file, never a mix, and a crash
// leaves one of the two. It reports whether the content changed: when the
// file already holds it, it is not written at all.
//
// With f Auto it keeps the format of the existing file (detected as Parse
// does); for a new or empty file it goes by the name: "*.json" is JSON,
// "*.erlang" (as in .hosts.erlang) is Erlang, "hosts" and "*.hosts" are
// hosts(5), anything else is Plain.
//
// It writes a temporary file in the same directory, syncs it, renames it
// over path and syncs the directory. The file keeps the old one's mode,
// and its owner and group when the caller is root; a new file gets mode
// 0644. When path is a symbolic link the link is kept and its target
// replaced (a dangling link's target is created); a link or file that
// someone else planted in a directory others can write is refused (see
// CheckPlanted), and so is a directory on the way swapped for a link
// after these checks. On error the old file is left as it was and no
// temporary file is left behind; an error syncing the directory comes
// after the rename, with changed true. Temporary files of path older than
// an hour, left by a writer that was killed, are removed.
func WriteFile(path string, f Format, hosts []Host) (changed bool, err error) {
	if f == Auto {
		target, err := resolveLink(path)
		if err != nil {
			return false, err
		}
		f = formatOf(path, target)
	}
	var buf bytes.Buffer
	if err := Write(&buf, f, hosts); err != nil {
		return false, err
	}
	return writeFileAtomic(path, buf.Bytes())
}

// formatOf returns the format of the file at target, by content, or by
// the name of path, which links to target.
func formatOf(path, target string) Format {
	if data, err := readRegular(target, path); err == nil {
		if f := detect(data); f != Auto {
			return f
		}
	}
	base := filepath.Base(path)
	switch ext := filepath.Ext(base); {
	case ext == ".json":
		return JSON
	case ext == ".erlang":
		return Erlang
	case base == "hosts" || ext == ".hosts":
		return Hosts
	}
	return Plain
}

// renameFile is (*os.Root).Rename; tests replace it to make the last
// step fail.
var renameFile = (*os.Root).Rename

// afterCheck runs between the checks of a write's path and the opening of
// its directory; tests swap the directory there.
var afterCheck = func(dir string) {}

// maxSymlinks bounds symlink chains, as Linux's MAXSYMLINKS.
const maxSymlinks = 40

// tempPrefix starts the names of temporary files, followed by the name of
// the file they replace, '-' and random digits (os.CreateTemp).
const tempPrefix = ".ipfinder-"

// staleAge is how old a temporary file left by a killed writer must be
// before a later write removes it; no write takes this long.
const staleAge = time.Hour

// writeFileAtomic replaces the file at path with data, as WriteFile
// describes.
//
// Everything after the path's checks goes through a descriptor of the
// checked directory (an os.Root), so that a directory on the way that is
// swapped for a symbolic link meanwhile (by another user who owns it)
// cannot send the write elsewhere.
func writeFileAtomic(path string, data []byte) (changed bool, err error) {
	target, err := resolveLink(path)
	if err != nil {
		return false, err
	}
	dir, base := filepath.Split(target)
	if dir == "" {
		dir = "."
	}
	afterCheck(dir)
	root, err := openDir(dir)
	if err != nil {
		return false, err
	}
	defer root.Close()
	mode := fs.FileMode(0o644)
	fi, err := root.Lstat(base)
	switch {
	case err == nil && !fi.Mode().IsRegular():
		return false, fmt.Errorf("hostfile: %s is not a regular file", target)
	case err == nil:
		di, err := root.Stat(".")
		if err != nil {
			return false, err
		}
		if err := checkFileOwner(target, fi, di); err != nil {
			return false, err
		}
		if old, err := readRegularIn(root, base, target); err == nil && bytes.Equal(old, data) {
			return false, nil
		}
		mode = fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
	case errors.Is(err, fs.ErrNotExist):
		fi = nil
	default:
		return false, err
	}
	removeStaleTemps(root, base, time.Now())
	if err := writeTemp(root, base, data, mode, fi); err != nil {
		return false, err
	}
	if err := syncDir(root); err != nil {
		return true, fmt.Errorf("hostfile: %s written, but syncing its directory: %w", target, err)
	}
	return true, nil
}

// openDir opens the directory dir, which holds no symbolic link, as a
// root, and checks that what it opened is dir: a link swapped in on the
// way since dir was checked would have been followed.
func openDir(dir string) (*os.Root, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	if err := isDir(root, dir); err != nil {
		root.Close()
		return nil, err
	}
	return root, nil
}

// createTemp creates a new file for base in root, named tempPrefix, base,
// '-' and random digits, as os.CreateTemp does.
func createTemp(root *os.Root, base string) (*os.File, string, error) {
	for try := 0; ; try++ {
		name := tempPrefix + base + "-" + strconv.FormatUint(uint64(rand.Uint32()), 10)
		f, err := root.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) && try < 100 {
			continue
		}
		return f, name, err
	}
}

// writeTemp writes data to a temporary file in root with the mode and
// owner of old (nil for a new file) and renames it to base. It removes
// the temporary file on any error.
func writeTemp(root *os.Root, base string, data []byte, mode fs.FileMode, old fs.FileInfo) (err error) {
	tmp, name, err := createTemp(root, base)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			root.Remove(name)
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if old != nil && os.Geteuid() == 0 {
		if err := chownLike(tmp, old); err != nil {
			return err
		}
	}
	if err := tmp.Chmod(mode); err != nil { // after chown, which clears set-user-ID
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return renameFile(root, name, base)
}

// resolveLink follows the symbolic links in path, those of its
// directories as well as the last element, to the file path names, which
// need not exist. The result holds no link, so a rename there cannot be
// sent elsewhere by one.
//
// Like the kernel's fs.protected_symlinks, it refuses a link that sits in
// a world-writable directory (such as /tmp) and is owned by neither the
// caller nor the directory's owner: another user could have planted it
// there to make a root run replace any file.
func resolveLink(path string) (string, error) {
	sep := string(filepath.Separator)
	done, rest := ".", path // done holds no link; rest is still to resolve
	if filepath.IsAbs(path) {
		done = filepath.VolumeName(path) + sep
		rest = path[len(done):]
	}
	for links := 0; rest != ""; {
		var elem string
		elem, rest, _ = strings.Cut(rest, sep)
		if elem == "" || elem == "." || elem == ".." {
			done = filepath.Join(done, elem) // lexical: done holds no link
			continue
		}
		next := filepath.Join(done, elem)
		fi, err := os.Lstat(next)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return joinRest(next, rest), nil
		case err != nil:
			return "", err
		case fi.Mode()&fs.ModeSymlink == 0:
			done = next
			continue
		}
		if links++; links > maxSymlinks {
			return "", fmt.Errorf("hostfile: %s: too many levels of symbolic links", path)
		}
		if err := checkLinkOwner(next, fi); err != nil {
			return "", err
		}
		link, err := os.Readlink(next)
		if err != nil {
			return "", err
		}
		if filepath.IsAbs(link) {
			done = filepath.VolumeName(link) + sep
			link = link[len(done):]
		}
		rest = joinRest(link, rest)
	}
	return done, nil
}

// joinRest appends to path the elements still to resolve, unchanged:
// filepath.Join would take "link/.." for the directory holding the link.
func joinRest(path, rest string) string {
	if rest == "" {
		return path
	}
	return path + string(filepath.Separator) + rest
}

// CheckPlanted returns the error WriteFile gives when another user may
// have planted path, or a symbolic link on the way to it, in a
// world-writable directory such as /tmp: a link or file there is trusted
// only when it belongs to the caller or to the directory's owner. Call it
// before reading a file that a later WriteFile will replace, such as
// state kept between runs, so that what is read is what was written.
func CheckPlanted(path string) error {
	target, err := resolveLink(path)
	if err != nil {
		return err
	}
	fi, err := os.Lstat(target)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	di, err := os.Stat(filepath.Dir(target))
	if err != nil {
		return err
	}
	return checkFileOwner(target, fi, di)
}

// checkLinkOwner refuses the symbolic link at path, described by fi, when
// someone else may have planted it.
func checkLinkOwner(path string, fi fs.FileInfo) error {
	di, err := os.Stat(filepath.Dir(path))
	if err != nil {
		return err
	}
	if uid := plantedBy(fi, di); uid >= 0 {
		return fmt.Errorf("hostfile: refusing to follow symbolic link %s: it belongs to uid %d, not to you, in world-writable %s; remove it, or give the target's path", path, uid, filepath.Dir(path))
	}
	return nil
}

// checkFileOwner refuses to replace the file at path, described by fi, in
// the directory described by di, when someone else may have planted it:
// the new file would keep its owner, who could then rewrite it
// (fs.protected_regular refuses to open such a file for writing).
func checkFileOwner(path string, fi, di fs.FileInfo) error {
	if uid := plantedBy(fi, di); uid >= 0 {
		return fmt.Errorf("hostfile: refusing to replace %s: it belongs to uid %d, not to you, in world-writable %s; remove it, or write elsewhere", path, uid, filepath.Dir(path))
	}
	return nil
}

// plantedBy returns the owner of the file described by fi, in the
// directory described by di, when that directory is world-writable and
// the file belongs to neither the caller nor the directory's owner;
// otherwise it returns -1.
func plantedBy(fi, di fs.FileInfo) (uid int) {
	if di.Mode().Perm()&0o002 == 0 {
		return -1 // only its owner and group can plant files here
	}
	uid, ok := ownerOf(fi)
	if !ok || uid == os.Geteuid() {
		return -1
	}
	if d, ok := ownerOf(di); ok && d == uid {
		return -1
	}
	return uid
}

// removeStaleTemps removes the temporary files of base in root that a
// killed writer left: ours by name, owned by the caller, and older than
// staleAge. It is best effort; errors are ignored.
func removeStaleTemps(root *os.Root, base string, now time.Time) {
	d, err := root.Open(".")
	if err != nil {
		return
	}
	ents, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return
	}
	prefix := tempPrefix + base + "-"
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || !e.Type().IsRegular() || !allDigits(rest) {
			continue
		}
		fi, err := e.Info()
		if err != nil || now.Sub(fi.ModTime()) < staleAge {
			continue
		}
		if uid, ok := ownerOf(fi); ok && uid != os.Geteuid() {
			continue
		}
		root.Remove(e.Name())
	}
}

// syncDir flushes root's directory, so that a rename in it survives a
// crash.
func syncDir(root *os.Root) error {
	d, err := root.Open(".")
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// sameDir checks that the open directory d is the one dir names now,
// without following a symbolic link there. It cannot tell a swap that
// was undone in between: Linux checks the kernel's name of d instead.
func sameDir(d *os.File, dir string) error {
	di, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	fi, err := d.Stat()
	if err != nil {
		return err
	}
	if !os.SameFile(di, fi) {
		return fmt.Errorf("hostfile: %s changed while being written: try again, or write elsewhere", dir)
	}
	return nil
}
