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

func writeReply(c net.Conn, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	c.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err = c.Write(append(b, '\n'))
	return err
}
