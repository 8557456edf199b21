package sdjoincmd

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// maxSocketPath is sun_path's size minus the terminating NUL.
const maxSocketPath = 107

// defaultSocket returns the default control socket of the agent named
// name: $XDG_RUNTIME_DIR/sdjoin/NAME.sock, else /tmp/sdjoin-UID/NAME.sock.
func defaultSocket(name, runtimeDir string, uid int) string {
	if runtimeDir != "" {
		return filepath.Join(runtimeDir, "sdjoin", name+".sock")
	}
	return filepath.Join(os.TempDir(), "sdjoin-"+strconv.Itoa(uid), name+".sock")
}

// controlSocket is the agent's listening control socket. Close removes
// the socket file, unless another agent has replaced it meanwhile.
type controlSocket struct {
	*net.UnixListener
	path  string
	ino   uint64
	close sync.Once
}

func (s *controlSocket) Close() error {
	var err error
	s.close.Do(func() {
		err = s.UnixListener.Close()
		if fi, lerr := os.Lstat(s.path); lerr == nil && inode(fi) == s.ino {
			os.Remove(s.path)
		}
	})
	return err
}

// listenControl listens on the control socket at path. With checkDir its
// directory (the default one) is created with mode 0700 and refused when
// another user owns it or others may use it. A live agent on path is an
// error; a stale socket is removed.
func listenControl(path string, checkDir bool) (*controlSocket, error) {
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("control socket path %s is %d bytes, limit %d: use a shorter --socket", path, len(path), maxSocketPath)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if checkDir {
		if err := checkPrivateDir(dir); err != nil {
			return nil, err
		}
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	return bindPrivate(path)
}

// bindPrivate binds a socket in a new 0700 directory next to path, makes
// it 0600, then links it at path: whatever the umask and the directory,
// nobody else can ever connect to it (binding at path, then chmod, would
// leave it open in between).
func bindPrivate(path string) (*controlSocket, error) {
	tmp, err := os.MkdirTemp(filepath.Dir(path), ".sdjoin-")
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	defer os.RemoveAll(tmp)
	p := filepath.Join(tmp, "s")
	if len(p) > maxSocketPath {
		return nil, fmt.Errorf("control socket directory %s: path too long to bind a socket in it (%d bytes, limit %d): use a --socket with a shorter directory", filepath.Dir(path), len(p), maxSocketPath)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: p, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ln.SetUnlinkOnClose(false)
	if err := os.Chmod(p, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Link(p, path); err != nil {
		ln.Close()
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("control socket %s appeared while starting: another sdjoin agent? stop it, or use another --name or --socket", path)
		}
		return nil, fmt.Errorf("control socket: %w", err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return &controlSocket{UnixListener: ln, path: path, ino: inode(fi)}, nil
}

// checkPrivateDir refuses a directory that is not ours alone.
func checkPrivateDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("control socket directory %s is not a directory: remove it, set XDG_RUNTIME_DIR or use --socket", dir)
	}
	if uid, ok := fileOwner(fi); ok && uid != os.Getuid() {
		return fmt.Errorf("control socket directory %s belongs to %s, not you (%s): another user created it; have it removed (as root) or use --socket or XDG_RUNTIME_DIR", dir, userName(uid), userName(os.Getuid()))
	}
	if m := fi.Mode().Perm(); m&0o077 != 0 {
		return fmt.Errorf("control socket directory %s has mode %#o, open to others: chmod 700 %s", dir, m, dir)
	}
	return nil
}

// userName names a uid as "user NAME (uid N)", or "uid N".
func userName(uid int) string {
	id := strconv.Itoa(uid)
	if u, err := user.LookupId(id); err == nil {
		return "user " + u.Username + " (uid " + id + ")"
	}
	return "uid " + id
}

// removeStale removes a socket nobody listens on, and refuses to start
// when an agent answers there.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("control socket %s exists and is not a socket: remove it or use --socket", path)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("another sdjoin agent is running on %s: stop it, or use another --name or --socket", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("control socket: %w", err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale control socket: %w", err)
	}
	return nil
}
