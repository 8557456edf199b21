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
	"strings"
	"sync"
	"syscall"
	"time"
)

// maxSocketPath is sun_path's size minus the terminating NUL.
const maxSocketPath = 107

// socketDir says how the directory of a control socket is checked.
type socketDir int

const (
	dirGiven   socketDir = iota // --socket: ours or root's; sticky if others may write to it
	dirPrivate                  // the user's default directory: ours alone (0700)
	dirSystem                   // the system service's RuntimeDirectory: shared with its group
)

// The system service (packaging/systemd/sdjoin.service) runs as serviceUser
// with RuntimeDirectory=sdjoin: its sockets are in systemSocketDir,
// mode 0660, for root and the members of group sdjoin. Variables for
// the tests.
var (
	systemSocketDir = "/run/sdjoin"
	serviceUser     = "sdjoin"
)

// agentSocket returns the default control socket of the agent named
// name: in systemd's RuntimeDirectory when run as a service with one
// ($RUNTIME_DIRECTORY, /run/sdjoin for sdjoin.service), else the user's
// (see defaultSocket).
func agentSocket(name string) (string, socketDir) {
	if rd, _, _ := strings.Cut(os.Getenv("RUNTIME_DIRECTORY"), ":"); rd != "" {
		return filepath.Join(rd, name+".sock"), dirSystem
	}
	return defaultSocketFor(name), dirPrivate
}

// defaultClient returns the client of the agent named name: the user's
// default socket or, when there is none, the system service's.
func defaultClient(name string) client {
	own := defaultSocketFor(name)
	if _, err := os.Lstat(own); err != nil {
		sys := filepath.Join(systemSocketDir, name+".sock")
		if _, err := os.Lstat(sys); err == nil {
			return client{path: sys, dir: dirSystem}
		}
	}
	return client{path: own, dir: dirPrivate}
}

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

// listenControl listens on the control socket at path. Its directory is
// created with mode 0700 if missing; the user's default one (dirPrivate)
// is refused when another user owns it or others may use it, the
// service's (dirSystem) when others than root and us may write to it,
// and there the socket is made 0660 for the directory's group. A live
// agent on path is an error; a stale socket is removed.
func listenControl(path string, dir socketDir) (*controlSocket, error) {
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("control socket path %s is %d bytes, limit %d: use a shorter --socket", path, len(path), maxSocketPath)
	}
	d := filepath.Dir(path)
	if err := os.MkdirAll(d, 0o700); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	mode := os.FileMode(0o600)
	switch dir {
	case dirPrivate:
		if err := checkPrivateDir(d); err != nil {
			return nil, err
		}
	case dirSystem:
		if err := checkServiceDir(d); err != nil {
			return nil, err
		}
		mode = 0o660
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	return bindSocket(path, mode)
}

// bindSocket binds a socket in a new 0700 directory next to path, makes
// it mode, then links it at path: whatever the umask and the directory,
// nobody else can ever connect to it (binding at path, then chmod, would
// leave it open in between).
func bindSocket(path string, mode os.FileMode) (*controlSocket, error) {
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
	if err := os.Chmod(p, mode); err != nil {
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

// checkServiceDir refuses a RuntimeDirectory that others than root and
// us may write to (systemd makes it ours, mode RuntimeDirectoryMode).
func checkServiceDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("control socket directory %s ($RUNTIME_DIRECTORY) is not a directory: fix RuntimeDirectory= in the unit or use --socket", dir)
	}
	if uid, ok := fileOwner(fi); ok && uid != os.Getuid() && uid != 0 {
		return fmt.Errorf("control socket directory %s ($RUNTIME_DIRECTORY) belongs to %s, not you (%s): fix User= and RuntimeDirectory= in the unit or use --socket", dir, userName(uid), userName(os.Getuid()))
	}
	if m := fi.Mode().Perm(); m&0o022 != 0 {
		return fmt.Errorf("control socket directory %s ($RUNTIME_DIRECTORY) has mode %#o, writable by others: set RuntimeDirectoryMode=0750 in the unit", dir, m)
	}
	return nil
}

// checkSystemSocket checks the system service's socket for a client: its
// directory (in /run, where only root creates directories) must belong
// to root or serviceUser and be writable by its owner only, and the
// socket must be ours or the directory owner's. It returns that owner:
// the agent may run as that user.
func checkSystemSocket(path string, fi os.FileInfo) (int, error) {
	dir := filepath.Dir(path)
	di, err := os.Lstat(dir)
	if err != nil {
		return 0, fmt.Errorf("control socket: %w", err)
	}
	owner, _ := fileOwner(di)
	switch {
	case !di.IsDir():
		return 0, fmt.Errorf("control socket directory %s is not a directory: refusing a socket there (have it removed as root, or use --socket)", dir)
	case owner != 0 && !isServiceUser(owner):
		return 0, fmt.Errorf("control socket directory %s belongs to %s, not root or user %s: refusing a socket there (have it removed as root, or use --socket)", dir, userName(owner), serviceUser)
	case di.Mode().Perm()&0o022 != 0:
		return 0, fmt.Errorf("control socket directory %s is writable by others (mode %#o): refusing a socket there (as root: chmod 750 %s)", dir, di.Mode().Perm(), dir)
	}
	if uid, ok := fileOwner(fi); ok && uid != os.Getuid() && uid != owner {
		return 0, fmt.Errorf("control socket %s belongs to %s, not %s: refusing to talk to it (use --socket)", path, userName(uid), userName(owner))
	}
	return owner, nil
}

// isServiceUser reports whether uid is serviceUser's.
func isServiceUser(uid int) bool {
	u, err := user.Lookup(serviceUser)
	return err == nil && u.Uid == strconv.Itoa(uid)
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
