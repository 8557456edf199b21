package hostfile

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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
// CheckPlanted). On error the old file is left as it was and no
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
	if data, err := readRegular(target); err == nil {
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

// renameFile is os.Rename; tests replace it to make the last step fail.
var renameFile = os.Rename

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
func writeFileAtomic(path string, data []byte) (changed bool, err error) {
	target, err := resolveLink(path)
	if err != nil {
		return false, err
	}
	mode := fs.FileMode(0o644)
	fi, err := os.Stat(target)
	switch {
	case err == nil && !fi.Mode().IsRegular():
		return false, fmt.Errorf("hostfile: %s is not a regular file", target)
	case err == nil:
		if err := checkFileOwner(target, fi); err != nil {
			return false, err
		}
		if old, err := readRegular(target); err == nil && bytes.Equal(old, data) {
			return false, nil
		}
		mode = fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
	case errors.Is(err, fs.ErrNotExist):
		fi = nil
	default:
		return false, err
	}
	dir, base := filepath.Split(target)
	if dir == "" {
		dir = "."
	}
	removeStaleTemps(dir, base, time.Now())
	if err := writeTemp(dir, base, data, mode, fi, target); err != nil {
		return false, err
	}
	if err := syncDir(dir); err != nil {
		return true, fmt.Errorf("hostfile: %s written, but syncing its directory: %w", target, err)
	}
	return true, nil
}

// writeTemp writes data to a temporary file in dir with the mode and
// owner of old (nil for a new file) and renames it to target. It removes
// the temporary file on any error.
func writeTemp(dir, base string, data []byte, mode fs.FileMode, old fs.FileInfo, target string) (err error) {
	tmp, err := os.CreateTemp(dir, tempPrefix+base+"-*") // O_EXCL, random name
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
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
	return renameFile(tmp.Name(), target)
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
	return checkFileOwner(target, fi)
}

// checkLinkOwner refuses the symbolic link at path, described by fi, when
// someone else may have planted it.
func checkLinkOwner(path string, fi fs.FileInfo) error {
	uid, dir, err := plantedBy(path, fi)
	if err != nil || uid < 0 {
		return err
	}
	return fmt.Errorf("hostfile: refusing to follow symbolic link %s: it belongs to uid %d, not to you, in world-writable %s; remove it, or give the target's path", path, uid, dir)
}

// checkFileOwner refuses to replace the file at path, described by fi,
// when someone else may have planted it: the new file would keep its
// owner, who could then rewrite it (fs.protected_regular refuses to open
// such a file for writing).
func checkFileOwner(path string, fi fs.FileInfo) error {
	uid, dir, err := plantedBy(path, fi)
	if err != nil || uid < 0 {
		return err
	}
	return fmt.Errorf("hostfile: refusing to replace %s: it belongs to uid %d, not to you, in world-writable %s; remove it, or write elsewhere", path, uid, dir)
}

// plantedBy returns the owner of the file at path, described by fi, when
// it sits in a world-writable directory and belongs to neither the caller
// nor the directory's owner; otherwise it returns -1.
func plantedBy(path string, fi fs.FileInfo) (uid int, dir string, err error) {
	dir = filepath.Dir(path)
	di, err := os.Stat(dir)
	if err != nil {
		return -1, dir, err
	}
	if di.Mode().Perm()&0o002 == 0 {
		return -1, dir, nil // only its owner and group can plant files here
	}
	uid, ok := ownerOf(fi)
	if !ok || uid == os.Geteuid() {
		return -1, dir, nil
	}
	if d, ok := ownerOf(di); ok && d == uid {
		return -1, dir, nil
	}
	return uid, dir, nil
}

// removeStaleTemps removes the temporary files of dir/base that a killed
// writer left: ours by name, owned by the caller, and older than staleAge.
// It is best effort; errors are ignored.
func removeStaleTemps(dir, base string, now time.Time) {
	ents, err := os.ReadDir(dir)
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
		os.Remove(filepath.Join(dir, e.Name()))
	}
}

// syncDir flushes a directory, so that a rename in it survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
