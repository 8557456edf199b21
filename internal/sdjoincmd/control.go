package sdjoincmd

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/cliutil"
	"github.com/ipfinder-go/ipfinder/tracker"
)

// Limits of the control protocol.
const (
	maxRequest     = 64 << 10 // bytes in a request line
	watchBacklog   = 1024     // events a watcher may fall behind
	requestTimeout = 5 * time.Second
	writeTimeout   = 10 * time.Second
	maxSocketPath  = 107 // sun_path minus the terminating NUL
)

// Control operations.
const (
	opList    = "list"
	opMembers = "members"
	opPick    = "pick"
	opTrack   = "track"
	opUntrack = "untrack"
	opWatch   = "watch"
)

// request is one control request.
type request struct {
	Op      string            `json:"op"`
	Service string            `json:"service,omitempty"`
	Meta    map[string]string `json:"meta,omitempty"`
	Policy  string            `json:"policy,omitempty"`
}

// reply answers a request. Code is the exit code a client uses with
// Error: 1, 2 (bad request) or 3 (nothing found).
type reply struct {
	Error   string   `json:"error,omitempty"`
	Code    int      `json:"code,omitempty"`
	Entries []record `json:"entries,omitempty"`
	Members []record `json:"members,omitempty"`
}

func errReply(err error) reply {
	return reply{Error: err.Error(), Code: cliutil.Code(err)}
}

// decodeRequest parses and checks one request line.
func decodeRequest(line []byte) (request, error) {
	var req request
	if err := json.Unmarshal(line, &req); err != nil {
		return req, cliutil.Usagef("bad request: %v", err)
	}
	switch req.Op {
	case opList, opMembers, opWatch:
	case opPick, opTrack, opUntrack:
		if req.Service == "" {
			return req, cliutil.Usagef("bad request: %s needs a service", req.Op)
		}
	default:
		return req, cliutil.Usagef("bad request: unknown op %q", req.Op)
	}
	if req.Service != "" {
		if err := checkService(req.Service); err != nil {
			return req, err
		}
	}
	if err := checkMeta(req.Service, req.Meta); err != nil {
		return req, err
	}
	if _, err := parsePolicy(req.Policy); err != nil {
		return req, err
	}
	return req, nil
}

// parsePolicy parses random, round-robin, local or least:FIELD ("" is
// random).
func parsePolicy(s string) (tracker.Policy, error) {
	switch s {
	case "", "random":
		return tracker.Random, nil
	case "round-robin":
		return tracker.RoundRobin, nil
	case "local":
		return tracker.PreferLocal, nil
	}
	if f, ok := strings.CutPrefix(s, "least:"); ok && f != "" {
		return tracker.Least(f), nil
	}
	return tracker.Policy{}, cliutil.Usagef("bad policy %q: want random, round-robin, local or least:FIELD", s)
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

// serve answers control connections until ln is closed; handlers end
// when ctx is done. A failed Accept (out of file descriptors under a
// connection flood) is retried after a growing pause, as net/http does;
// beyond maxConns connections at once, a new one is told to retry.
func (a *agent) serve(ctx context.Context, ln net.Listener) {
	defer a.wg.Done()
	slots := make(chan struct{}, maxConns)
	var pause time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if isClosedConn(err) || ctx.Err() != nil {
				return
			}
			pause = acceptPause(pause)
			if pause == minAcceptPause {
				a.warnf("warning: control socket: %v; retrying", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(pause):
			}
			continue
		}
		pause = 0
		select {
		case slots <- struct{}{}:
		default:
			refuseBusy(c)
			continue
		}
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			defer func() { <-slots }()
			a.handle(ctx, c)
		}()
	}
}

// Bounds of the accept loop.
const (
	maxConns       = 128 // control connections served at once
	minAcceptPause = 5 * time.Millisecond
	maxAcceptPause = time.Second
)

// acceptPause returns the pause after a failed Accept: doubling from
// minAcceptPause up to maxAcceptPause.
func acceptPause(last time.Duration) time.Duration {
	return min(max(2*last, minAcceptPause), maxAcceptPause)
}

// refuseBusy answers a connection over maxConns with an error and closes
// it.
func refuseBusy(c net.Conn) {
	b, _ := json.Marshal(reply{Error: fmt.Sprintf("agent busy: %d control connections open; retry later", maxConns), Code: cliutil.ExitFailure})
	c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	c.Write(append(b, '\n'))
	c.Close()
}

// handle answers one connection: one request, one reply (or a stream).
func (a *agent) handle(ctx context.Context, c net.Conn) {
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	c.SetReadDeadline(time.Now().Add(requestTimeout))
	br := bufio.NewReader(io.LimitReader(c, maxRequest))
	line, err := br.ReadBytes('\n')
	if err != nil && (len(line) == 0 || !errors.Is(err, io.EOF)) {
		a.log.Debug("control read", "err", err)
		return
	}
	c.SetReadDeadline(time.Time{})
	req, err := decodeRequest(line)
	if err != nil {
		writeReply(c, errReply(err))
		return
	}
	if req.Op == opWatch {
		a.watch(ctx, c, req.Service)
		return
	}
	writeReply(c, a.answer(req))
}

func writeReply(c net.Conn, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	c.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err = c.Write(append(b, '\n'))
	return err
}

// answer runs a request other than watch.
func (a *agent) answer(req request) reply {
	a.mu.Lock()
	defer a.mu.Unlock()
	t := a.t
	if t == nil {
		return a.answerOffline(req)
	}
	switch req.Op {
	case opList:
		svcs := []string{req.Service}
		if req.Service == "" {
			svcs = t.Services()
		}
		var r reply
		for _, svc := range svcs {
			for _, p := range t.List(svc) {
				r.Entries = append(r.Entries, entryRecord(p))
			}
		}
		return r
	case opMembers:
		var r reply
		for _, m := range t.Members() {
			r.Members = append(r.Members, memberRecord(m))
		}
		return r
	case opPick:
		pol, _ := parsePolicy(req.Policy) // checked by decodeRequest
		p, err := t.Pick(req.Service, pol)
		if errors.Is(err, tracker.ErrNoProvider) {
			return reply{Error: "no provider of " + req.Service, Code: cliutil.ExitNotFound}
		}
		if err != nil {
			return errReply(err)
		}
		return reply{Entries: []record{entryRecord(p)}}
	case opTrack:
		_, err := t.Track(req.Service, trackKey, req.Meta)
		if errors.Is(err, tracker.ErrAlreadyTracked) {
			_, err = t.Update(req.Service, trackKey, req.Meta)
		}
		if errors.Is(err, tracker.ErrMetaTooLarge) {
			err = cliutil.Usagef("%v: keep --meta under %d bytes", err, tracker.MaxMetaLen)
		}
		if err != nil {
			return errReply(err)
		}
		a.tracked[req.Service] = maps.Clone(req.Meta)
		return reply{}
	case opUntrack:
		if _, ok := a.tracked[req.Service]; !ok {
			return reply{Error: "not tracking " + req.Service, Code: cliutil.ExitNotFound}
		}
		if err := t.Untrack(req.Service, trackKey); err != nil {
			return errReply(err)
		}
		delete(a.tracked, req.Service)
		return reply{}
	}
	return errReply(cliutil.Usagef("bad request: unknown op %q", req.Op))
}

// answerOffline answers a request while the agent has no tracker (no
// address, or between two trackers): it sees no entries or members, and
// track and untrack only change what the next tracker will track. a.mu
// is held.
func (a *agent) answerOffline(req request) reply {
	switch req.Op {
	case opList, opMembers:
		return reply{}
	case opPick:
		return reply{Error: "no provider of " + req.Service + " (offline: no address)", Code: cliutil.ExitNotFound}
	case opTrack:
		a.tracked[req.Service] = maps.Clone(req.Meta)
		return reply{}
	case opUntrack:
		if _, ok := a.tracked[req.Service]; !ok {
			return reply{Error: "not tracking " + req.Service, Code: cliutil.ExitNotFound}
		}
		delete(a.tracked, req.Service)
		return reply{}
	}
	return errReply(cliutil.Usagef("bad request: unknown op %q", req.Op))
}

// watch streams events to c until the client goes away, it falls behind,
// or the agent stops.
func (a *agent) watch(ctx context.Context, c net.Conn, service string) {
	a.mu.Lock()
	initial := a.vis.snapshot(service)
	if service == "" {
		for _, name := range slices.Sorted(maps.Keys(a.members)) {
			r := memberRecord(a.members[name])
			r.Event = evMemberJoin
			initial = append(initial, r)
		}
	}
	w := &watcher{service: service, c: make(chan record, len(initial)+watchBacklog)}
	for _, r := range initial {
		w.admit(r)
		w.offer(r)
	}
	a.watchers[w] = struct{}{}
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		delete(a.watchers, w)
		a.mu.Unlock()
	}()
	if writeReply(c, reply{}) != nil {
		return
	}
	gone := make(chan struct{}) // the client closed its side
	go func() {
		io.Copy(io.Discard, c)
		close(gone)
	}()
	defer func() { c.Close(); <-gone }()
	for {
		select {
		case <-ctx.Done():
			return
		case <-gone:
			return
		case r, ok := <-w.c:
			if !ok {
				a.mu.Lock()
				behind := w.behind
				a.mu.Unlock()
				if behind {
					writeReply(c, reply{Error: fmt.Sprintf("watch fell %d events behind: reconnect", watchBacklog), Code: cliutil.ExitFailure})
				}
				return
			}
			if writeReply(c, r) != nil {
				return
			}
		}
	}
}

// watcher is one consumer of events: stdout or a watch client. Its fields
// are guarded by agent.mu.
type watcher struct {
	service string
	renames map[string]string // old -> new already shown
	c       chan record       // nil for stdout
	behind  bool
	ended   bool
}

// admit reports whether the watcher wants r, and shows each rename once.
func (w *watcher) admit(r record) bool {
	if w.service != "" && r.Service != w.service {
		return false
	}
	if r.Event == evRename {
		if w.renames[r.PrevNode] == r.Node {
			return false
		}
		if w.renames == nil {
			w.renames = make(map[string]string)
		}
		w.renames[r.PrevNode] = r.Node
	}
	return true
}

// offer queues r without blocking; a full queue ends the watcher.
func (w *watcher) offer(r record) bool {
	if w.ended {
		return false
	}
	select {
	case w.c <- r:
		return true
	default:
		w.end(true)
		return false
	}
}

// end closes the watcher's queue; behind says why.
func (w *watcher) end(behind bool) {
	if !w.ended {
		w.ended, w.behind = true, behind
		close(w.c)
	}
}
