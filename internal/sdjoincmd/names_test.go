package sdjoincmd

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ipfinder-go/ipfinder/internal/cliutil"
)

// TestControlCharactersRefused: names and meta with control characters
// or invalid UTF-8 are usage errors on the command line and the socket.
func TestControlCharactersRefused(t *testing.T) {
	forged := "a\nmember-leave x@192.0.2.1"
	base := []string{"--hostfile", filepath.Join(t.TempDir(), "none"), "--socket", filepath.Join(t.TempDir(), "a.sock"), "--no-discover", "--bind", "127.0.0.1:0"}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"track_newline", []string{"--track", forged}},
		{"track_escape", []string{"--track", "a\x1b[2J"}},
		{"track_invalid_utf8", []string{"--track", "a\xff"}},
		{"track_c1", []string{"--track", "a\u009b2J"}},
		{"meta_value_cr", []string{"--track", "web", "--meta", "k=v\r"}},
		{"meta_key_escape", []string{"--track", "web", "--meta", "\x1bk=v"}},
		{"name_escape", []string{"--name", "n\x1b", "--track", "web"}},
		{"client_track", []string{"track", forged}},
		{"client_track_meta", []string{"track", "web", "--meta", "k=\x07"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if args[0] != "track" {
				args = append(args, base...)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second) // were it accepted, the agent would run
			defer cancel()
			if code, _, errs := runCLI(ctx, args...); code != cliutil.ExitUsage {
				t.Errorf("sdjoin %q: exit %d (%s), want %d", args, code, errs, cliutil.ExitUsage)
			}
		})
	}
	for _, line := range []string{
		`{"op":"track","service":"a\nmember-leave x@192.0.2.1"}`,
		`{"op":"track","service":"web","meta":{"k":"\u001b[2J"}}`,
		`{"op":"pick","service":"a\u0085"}`,
		`{"op":"watch","service":"\u202e"}`,
	} {
		if _, err := decodeRequest([]byte(line)); cliutil.Code(err) != cliutil.ExitUsage {
			t.Errorf("decodeRequest(%s) = %v, want a usage error", line, err)
		}
	}
}

// TestMetaTooLargeIsUsage: meta over tracker.MaxMetaLen is a usage error
// (exit 2) on the command line, as through the socket.
func TestMetaTooLargeIsUsage(t *testing.T) {
	big := "k=" + strings.Repeat("x", 2000)
	code, _, errs := runCLI(t.Context(), "--track", "web", "--meta", big, "--hostfile", filepath.Join(t.TempDir(), "none"),
		"--socket", filepath.Join(t.TempDir(), "a.sock"), "--no-discover", "--bind", "127.0.0.1:0")
	if code != cliutil.ExitUsage || !strings.Contains(errs, "limit 1024") {
		t.Errorf("sdjoin --meta of 2000 bytes: exit %d, %q; want exit 2 naming the limit", code, errs)
	}
	a := startAgent(t, "n1", freePort(t), filepath.Join(t.TempDir(), "none"))
	if code, _, errs := a.run("track", "web", "--meta", big); code != cliutil.ExitUsage {
		t.Errorf("sdjoin track --meta of 2000 bytes: exit %d, %q; want 2", code, errs)
	}
	rep, err := rawRequest(a.sock, `{"op":"track","service":"web","meta":{"k":"`+strings.Repeat("x", 2000)+`"}}`, time.Second*5)
	if err != nil || !strings.Contains(rep, `"code":2`) {
		t.Errorf("track with 2000 bytes of meta through the socket: %s, %v; want code 2", rep, err)
	}
}

// FuzzEventOneLine: whatever names and meta the tracker delivers, an
// event prints as exactly one line of printable characters, in text and
// in JSON, and the JSON decodes back to the same strings.
func FuzzEventOneLine(f *testing.F) {
	f.Add("web", "n@192.0.2.1", "", "k", "v", 0)
	f.Add("a\nmember-leave x@192.0.2.1", "n\x1b[2J", "p\r", "\u009b", "\u2028\xff", 2)
	f.Add("\U000e0001", "\u202e", "\x7f", "\"", "\\", 4)
	events := []string{evJoin, evLeave, evRename, evMemberJoin, evMemberLeave, "other"}
	f.Fuzz(func(t *testing.T, service, node, prev, key, val string, ev int) {
		r := record{
			Event: events[uint(ev)%uint(len(events))], Service: service, Node: node, PrevNode: prev,
			Addr: netip.MustParseAddrPort("192.0.2.1:7946"), Meta: map[string]string{key: val},
		}
		for _, asJSON := range []bool{false, true} {
			var b strings.Builder
			if err := writeRecord(&b, r, asJSON); err != nil {
				t.Fatal(err)
			}
			line, ok := strings.CutSuffix(b.String(), "\n")
			if !ok || !utf8.ValidString(line) {
				t.Fatalf("json %v: %q is not one valid UTF-8 line", asJSON, b.String())
			}
			for _, c := range line {
				if !strconv.IsPrint(c) {
					t.Fatalf("json %v: %q holds %U", asJSON, line, c)
				}
			}
			if !asJSON {
				continue
			}
			var back record
			if err := json.Unmarshal([]byte(line), &back); err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			if allValid(service, node, prev, key, val) && (back.Service != service || back.Node != node || back.PrevNode != prev || back.Meta[key] != val) {
				t.Fatalf("%s decodes to %+v, want %+v", line, back, r)
			}
		}
	})
}

func allValid(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) {
			return false
		}
	}
	return true
}

func TestPrintable(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text: ok", "plain text: ok"},
		{"a\nb", `a\nb`},
		{"\x1b[2J", `\x1b[2J`},
		{"bad \xff byte", `bad \xff byte`},
		{"c1 \u009b", `c1 \u009b`},
		{"naïve", "naïve"},
	} {
		if got := printable(tc.in); got != tc.want {
			t.Errorf("printable(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestAgentWarningsPrintable: warnings quoting hostfile lines hold no
// control characters, and a file of many bad lines gives at most
// maxLineWarnings of them and a count.
func TestAgentWarningsPrintable(t *testing.T) {
	t.Parallel()
	hosts := filepath.Join(t.TempDir(), "hosts")
	var b strings.Builder
	for i := range 50 {
		fmt.Fprintf(&b, "\x1b[2J bad %d\r\n", i)
	}
	writeFile(t, hosts, b.String())
	a := startAgent(t, "n1", freePort(t), hosts)
	waitFor(t, 5*time.Second, "the count of bad lines", func() bool {
		return strings.Contains(a.stderr.String(), "more bad lines")
	})
	a.stop(t)
	errs := a.stderr.String()
	if strings.ContainsFunc(errs, func(r rune) bool { return r != '\n' && !strconv.IsPrint(r) }) {
		t.Errorf("stderr holds control characters: %q", errs)
	}
	if n := strings.Count(errs, "warning: skipped hostfile"); n != maxLineWarnings {
		t.Errorf("%d bad-line warnings, want %d:\n%s", n, maxLineWarnings, errs)
	}
}

// TestNameRule: --name follows hostfile.CheckNodeName, as ipfinder's, for
// the agent and the client commands.
func TestNameRule(t *testing.T) {
	none := filepath.Join(t.TempDir(), "none")
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"agent_non_ascii", []string{"--name", "nöde", "--track", "web", "--hostfile", none, "--no-discover", "--bind", "127.0.0.1:0"}, cliutil.ExitUsage},
		{"agent_space", []string{"--name", "a b", "--track", "web", "--hostfile", none, "--no-discover", "--bind", "127.0.0.1:0"}, cliutil.ExitUsage},
		{"client_non_ascii", []string{"list", "--name", "nöde"}, cliutil.ExitUsage},
		{"client_after_argument", []string{"list", "web", "--name", "a:b"}, cliutil.ExitUsage},
		{"client_ok_no_agent", []string{"list", "web", "--name", "node-1.a_b", "--socket", none}, cliutil.ExitFailure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second) // were it accepted, the agent would run
			defer cancel()
			if code, _, errs := runCLI(ctx, tc.args...); code != tc.want {
				t.Errorf("sdjoin %q: exit %d (%s), want %d", tc.args, code, errs, tc.want)
			}
		})
	}
}
