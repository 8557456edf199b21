package sdjoincmd

import (
	"encoding/json"
	"net"
	"strings"
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
)

// Control operations.
const (
	opList    = "list"
	opMembers = "members"
	opPick    = "pick"
	opTrack   = "track"
	opUntrack = "untrack"
	opWatch   = "watch"
	opLocal   = "local"
	opSession = "session"
)

// request is one control request.
type request struct {
	Op      string            `json:"op"`
	Service string            `json:"service,omitempty"`
	Meta    map[string]string `json:"meta,omitempty"`
	Policy  string            `json:"policy,omitempty"`
	// The checks of a track request (see wireEntry).
	Checks     []string `json:"checks,omitempty"`
	IntervalMS int64    `json:"interval_ms,omitempty"`
	TimeoutMS  int64    `json:"timeout_ms,omitempty"`
	// The entries of a session request.
	Entries []wireEntry `json:"entries,omitempty"`

	specs []trackSpec // parsed by decodeRequest: track's one, session's
}

// reply answers a request. Code is the exit code a client uses with
// Error: 1, 2 (bad request) or 3 (nothing found).
type reply struct {
	Error   string   `json:"error,omitempty"`
	Code    int      `json:"code,omitempty"`
	Entries []record `json:"entries,omitempty"`
	Members []record `json:"members,omitempty"`
	Key     string   `json:"key,omitempty"` // of a session's entries
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
	return req, checkRequest(&req)
}

// checkRequest checks a request (of any front-end) and parses the
// entries of track and session into req.specs.
func checkRequest(req *request) error {
	switch req.Op {
	case opList, opMembers, opWatch, opLocal:
	case opPick, opTrack, opUntrack:
		if req.Service == "" {
			return cliutil.Usagef("bad request: %s needs a service", req.Op)
		}
	case opSession:
		return decodeSession(req)
	default:
		return cliutil.Usagef("bad request: unknown op %q", req.Op)
	}
	if req.Op == opTrack {
		ts, err := parseWireEntry(wireEntry{Service: req.Service, Meta: req.Meta,
			Checks: req.Checks, IntervalMS: req.IntervalMS, TimeoutMS: req.TimeoutMS})
		if err != nil {
			return err
		}
		req.specs = []trackSpec{ts}
	}
	if req.Service != "" {
		if err := checkService(req.Service); err != nil {
			return err
		}
	}
	if err := checkMeta(req.Service, req.Meta); err != nil {
		return err
	}
	if _, err := parsePolicy(req.Policy); err != nil {
		return err
	}
	return nil
}

// decodeSession checks a session request: 1 to maxSessionEntries
// entries, each of another service.
func decodeSession(req *request) error {
	n := len(req.Entries)
	if n == 0 || n > maxSessionEntries {
		return cliutil.Usagef("bad request: a session has 1 to %d entries, not %d", maxSessionEntries, n)
	}
	seen := make(map[string]bool, n)
	for _, w := range req.Entries {
		ts, err := parseWireEntry(w)
		if err != nil {
			return err
		}
		if seen[ts.service] {
			return cliutil.Usagef("bad request: %s tracked twice in one session", ts.service)
		}
		seen[ts.service] = true
		req.specs = append(req.specs, ts)
	}
	return nil
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

func writeReply(c net.Conn, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	c.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err = c.Write(append(b, '\n'))
	return err
}
