package sdjoincmd

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipfinder-go/ipfinder/internal/cliutil"
)

func TestDefaultSocket(t *testing.T) {
	if got, want := defaultSocket("node1", "/run/user/1000", 1000), "/run/user/1000/sdjoin/node1.sock"; got != want {
		t.Errorf("with XDG_RUNTIME_DIR: %s, want %s", got, want)
	}
	if got, want := defaultSocket("sdjoin", "", 1000), filepath.Join(os.TempDir(), "sdjoin-1000", "sdjoin.sock"); got != want {
		t.Errorf("without XDG_RUNTIME_DIR: %s, want %s", got, want)
	}
}

func TestListenControl(t *testing.T) {
	t.Run("creates_private_dir", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "sdjoin", "a.sock")
		ln, err := listenControl(path, dirPrivate)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		for p, want := range map[string]os.FileMode{filepath.Dir(path): 0o700, path: 0o600} {
			if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != want {
				t.Errorf("%s: mode %v, %v; want %#o", p, fi.Mode(), err, want)
			}
		}
	})
	t.Run("open_dir_refused", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "open")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		os.Chmod(dir, 0o755)
		if _, err := listenControl(filepath.Join(dir, "a.sock"), dirPrivate); err == nil || !strings.Contains(err.Error(), "chmod 700") {
			t.Errorf("listenControl in a 0755 default dir: %v", err)
		}
	})
	t.Run("stale_socket_removed", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "a.sock")
		old, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		old.SetUnlinkOnClose(false)
		old.Close() // the file stays, nobody listens: a crashed agent
		ln, err := listenControl(path, dirGiven)
		if err != nil {
			t.Fatalf("stale socket: %v", err)
		}
		ln.Close()
	})
	t.Run("not_a_socket_refused", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "a.sock")
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := listenControl(path, dirGiven); err == nil || !strings.Contains(err.Error(), "not a socket") {
			t.Errorf("listenControl over a file: %v", err)
		}
	})
	t.Run("too_long", func(t *testing.T) {
		if _, err := listenControl("/"+strings.Repeat("x", 120), dirGiven); err == nil {
			t.Error("listenControl accepted a path over 107 bytes")
		}
	})
}

func TestDecodeRequest(t *testing.T) {
	tests := []struct {
		name string
		line string
		code int // 0: valid
	}{
		{name: "list_all", line: `{"op":"list"}`},
		{name: "pick_least", line: `{"op":"pick","service":"web","policy":"least:load"}`},
		{name: "track_meta", line: `{"op":"track","service":"db","meta":{"port":"5432"}}` + "\n"},
		{name: "pick_without_service", line: `{"op":"pick"}`, code: cliutil.ExitUsage},
		{name: "bad_policy", line: `{"op":"pick","service":"web","policy":"least:"}`, code: cliutil.ExitUsage},
		{name: "unknown_op", line: `{"op":"shutdown"}`, code: cliutil.ExitUsage},
		{name: "not_json", line: `list web`, code: cliutil.ExitUsage},
		{name: "meta_not_strings", line: `{"op":"track","service":"db","meta":{"port":5432}}`, code: cliutil.ExitUsage},
		{name: "track_checks", line: `{"op":"track","service":"db","checks":["tcp://127.0.0.1:5432","exec:pg_isready"],"interval_ms":1000,"timeout_ms":500}`},
		{name: "track_bad_check", line: `{"op":"track","service":"db","checks":["ftp://x"]}`, code: cliutil.ExitUsage},
		{name: "track_short_interval", line: `{"op":"track","service":"db","checks":["tcp://127.0.0.1:1"],"interval_ms":10}`, code: cliutil.ExitUsage},
		{name: "track_negative_timeout", line: `{"op":"track","service":"db","timeout_ms":-1}`, code: cliutil.ExitUsage},
		{name: "local", line: `{"op":"local"}`},
		{name: "session", line: `{"op":"session","entries":[{"service":"web","meta":{"port":"8080"},"checks":["http://127.0.0.1:8080/"]},{"service":"db"}]}`},
		{name: "session_empty", line: `{"op":"session"}`, code: cliutil.ExitUsage},
		{name: "session_too_many", line: sessionLine(maxSessionEntries + 1), code: cliutil.ExitUsage},
		{name: "session_max", line: sessionLine(maxSessionEntries)},
		{name: "session_twice", line: `{"op":"session","entries":[{"service":"web"},{"service":"web"}]}`, code: cliutil.ExitUsage},
		{name: "session_bad_service", line: `{"op":"session","entries":[{"service":"a\nb"}]}`, code: cliutil.ExitUsage},
		{name: "session_too_many_checks", line: `{"op":"session","entries":[{"service":"web","checks":["tcp://a:1","tcp://a:1","tcp://a:1","tcp://a:1","tcp://a:1","tcp://a:1","tcp://a:1","tcp://a:1","tcp://a:1"]}]}`, code: cliutil.ExitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeRequest([]byte(tt.line))
			if got := cliutil.Code(err); got != tt.code {
				t.Errorf("decodeRequest(%s) = %v (code %d), want code %d", tt.line, err, got, tt.code)
			}
		})
	}
}

// sessionLine is a session request with n entries.
func sessionLine(n int) string {
	var es []string
	for i := range n {
		es = append(es, fmt.Sprintf(`{"service":"s%d"}`, i))
	}
	return `{"op":"session","entries":[` + strings.Join(es, ",") + `]}`
}

func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(`{"op":"session","entries":[{"service":"web","checks":["exec:test -e /x"],"interval_ms":200}]}`))
	f.Add([]byte(`{"op":"track","service":"db","checks":["http://u:p@h/"],"timeout_ms":5}`))
	f.Add([]byte(`{"op":"list","service":"test"}`))
	f.Add([]byte(`{"op":"pick","service":"web","policy":"least:load"}`))
	f.Add([]byte(`{"op":"track","service":"db","meta":{"k":"v"}}`))
	f.Add([]byte(`{"op":"watch"}` + "\n"))
	f.Add([]byte(`{"op":`))
	f.Fuzz(func(t *testing.T, line []byte) {
		req, err := decodeRequest(line)
		if err != nil {
			if cliutil.Code(err) != cliutil.ExitUsage {
				t.Fatalf("decodeRequest(%q): error %v is not a usage error", line, err)
			}
			return
		}
		if _, err := parsePolicy(req.Policy); err != nil {
			t.Fatalf("accepted request with bad policy %q", req.Policy)
		}
		if (req.Op == opPick || req.Op == opTrack || req.Op == opUntrack) && req.Service == "" {
			t.Fatalf("accepted %s without a service", req.Op)
		}
		switch req.Op {
		case opTrack:
			if len(req.specs) != 1 {
				t.Fatalf("accepted track with %d specs", len(req.specs))
			}
		case opSession:
			if n := len(req.specs); n == 0 || n > maxSessionEntries || n != len(req.Entries) {
				t.Fatalf("accepted a session of %d specs (%d entries)", n, len(req.Entries))
			}
		}
		for _, ts := range req.specs {
			if ts.validate() != nil || len(ts.checks) > maxEntryChecks {
				t.Fatalf("accepted invalid entry %+v", ts)
			}
		}
	})
}

// TestSessionBounds: the core refuses a session over maxSessions, and a
// closed session frees its slot and its entries.
func TestSessionBounds(t *testing.T) {
	c := newCore(&agentOptions{}, newHub(), func(string, ...any) {}, slog.New(slog.DiscardHandler))
	defer c.checks.Close()
	specs := []trackSpec{{service: "web"}}
	var keys []string
	for range maxSessions {
		key, err := c.openSession(specs)
		if err != nil {
			t.Fatalf("session %d: %v", len(keys)+1, err)
		}
		keys = append(keys, key)
	}
	if _, err := c.openSession(specs); !errors.Is(err, errBusy) {
		t.Fatalf("session %d: %v, want errBusy", maxSessions+1, err)
	}
	if got := len(c.localEntries("web")); got != maxSessions {
		t.Errorf("%d entries of web, want one per session (%d)", got, maxSessions)
	}
	c.closeSession(keys[0], specs)
	if _, err := c.openSession(specs); err != nil {
		t.Errorf("after a session closed: %v", err)
	}
	for _, r := range c.localEntries("web") {
		if r.Key == keys[0] {
			t.Errorf("closed session %s still has %+v", keys[0], r)
		}
	}
}
