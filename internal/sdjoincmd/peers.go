package sdjoincmd

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/ipfinder-go/ipfinder/hostfile"
	"github.com/ipfinder-go/ipfinder/tracker"
)

// peersFromHosts turns hostfile entries into peer addresses HOST:PORT, in
// file order without duplicates: "host" and "name@host" get the default
// port, "host:port" keeps its port. Entries that are self are left out.
// It takes time linear in len(hosts).
func peersFromHosts(hosts []hostfile.Host, self func(netip.AddrPort) bool) []string {
	var out []string
	seen := make(map[string]bool, len(hosts))
	for _, h := range hosts {
		port := h.Port
		if port == 0 {
			port = tracker.DefaultPort
		}
		var host string
		switch {
		case h.Addr.IsValid():
			ap := netip.AddrPortFrom(h.Addr.Unmap(), port)
			if self != nil && self(ap) {
				continue
			}
			host = ap.Addr().String()
		case len(h.Names) > 0:
			host = h.Names[0]
		default:
			continue
		}
		p := net.JoinHostPort(host, strconv.Itoa(int(port)))
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// selfMatcher reports whether a peer address is this agent: its bind or
// advertise address, or, when bound to an unspecified address, any of
// local with the bind port.
func selfMatcher(bind, advertise netip.AddrPort, local []netip.Addr) func(netip.AddrPort) bool {
	return func(p netip.AddrPort) bool {
		if p == bind || p == advertise {
			return true
		}
		return bind.Addr().IsUnspecified() && p.Port() == bind.Port() && slices.Contains(local, p.Addr())
	}
}

// defaultHostfiles are the hostfiles tried, in order, without --hostfile.
func defaultHostfiles(home string) []string {
	return []string{filepath.Join(home, ".hosts"), filepath.Join(home, ".hosts.erlang")}
}

// pickHostfile returns the first of paths that exists, else the first.
func pickHostfile(paths []string) string {
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return paths[0]
}

// fileState is what the hostfile poll compares: a change of any field
// means the file must be read again.
type fileState struct {
	path  string
	err   string
	ino   uint64
	size  int64
	mtime time.Time
}

// statFile returns the state of the hostfile at path; one that is not a
// regular file (a FIFO would block the agent, /dev/zero never end) is an
// error.
func statFile(path string) fileState {
	fi, err := os.Stat(path)
	if err != nil {
		return fileState{path: path, err: err.Error()}
	}
	if !fi.Mode().IsRegular() {
		return fileState{path: path, err: fmt.Sprintf("%s is not a regular file (%s)", path, fi.Mode().Type())}
	}
	return fileState{path: path, ino: inode(fi), size: fi.Size(), mtime: fi.ModTime()}
}

// readHostfile reads path leniently. It returns the hosts, the bad lines
// as errors (printed as warnings) and an error if the file could not be
// read at all.
func readHostfile(path string) (hosts []hostfile.Host, bad []error, err error) {
	hosts, err = hostfile.ReadFile(path, &hostfile.ParseOptions{Lenient: true})
	if err == nil {
		return hosts, nil, nil
	}
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	for _, e := range errs {
		var pe *hostfile.ParseError
		if !errors.As(e, &pe) {
			return nil, nil, err
		}
	}
	return hosts, errs, nil
}

// pollHostfile re-reads the hostfile if it changed and reports whether
// the peers changed. It runs on the loop.
func (c *core) pollHostfile() bool {
	path := pickHostfile(c.opt.hostfiles)
	st := statFile(path)
	if st.path == c.hostfile.path && st.err == c.hostfile.err && st.ino == c.hostfile.ino &&
		st.size == c.hostfile.size && st.mtime.Equal(c.hostfile.mtime) {
		return false
	}
	c.hostfile = st
	if st.err != "" {
		c.warn("warning: no hostfile: %s (polling it; peers can still join us)", st.err)
		return false
	}
	hosts, bad, err := readHostfile(path)
	if err != nil {
		c.warn("warning: hostfile %s: %v (polling it)", path, err)
		return false
	}
	c.warnBadLines(path, bad)
	c.mu.Lock()
	self := c.selfLocked()
	c.mu.Unlock()
	peers := peersFromHosts(hosts, self) // not under c.mu: the file may be long
	c.mu.Lock()
	defer c.mu.Unlock()
	changed := !slices.Equal(peers, c.peers)
	c.peers = peers
	c.log.Debug("hostfile read", "path", path, "peers", len(peers))
	return changed
}

// maxLineWarnings bounds the warnings about bad lines per hostfile read.
const maxLineWarnings = 10

// warnBadLines warns once about each bad line of the hostfile, at most
// maxLineWarnings at a time, then counts the rest.
func (c *core) warnBadLines(path string, bad []error) {
	n := 0
	for _, e := range bad {
		msg := e.Error()
		if c.warnedLines[msg] {
			continue
		}
		if n++; n <= maxLineWarnings {
			c.warnedLines[msg] = true
			c.warn("warning: skipped %s", msg)
		}
	}
	if n > maxLineWarnings {
		c.warn("warning: skipped %d more bad lines of %s", n-maxLineWarnings, path)
	}
}
