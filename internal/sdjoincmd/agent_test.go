package sdjoincmd

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ipfinder-go/ipfinder/internal/cliutil"
)

func TestTwoAgentsSeeEachOther(t *testing.T) {
	t.Parallel()
	p1, p2 := freePort(t), freePort(t)
	hosts := filepath.Join(t.TempDir(), "hosts")
	writeFile(t, hosts, fmt.Sprintf("127.0.0.1:%d\nnode2@127.0.0.1:%d\nnot a host line\n", p1, p2))
	n1 := startAgent(t, "node1", p1, hosts, "--track", "test", "--json")
	n2 := startAgent(t, "node2", p2, hosts, "--track", "test", "--meta", "load=3", "--track", "other")

	want := []string{n1.node(), n2.node()}
	waitFor(t, 5*time.Second, "both providers of test on node1", func() bool {
		return slices.Equal(nodes(n1.list(t, "test")), want)
	})
	got := n1.list(t, "test")
	if diff := cmp.Diff(map[string]string{"load": "3"}, got[1].Meta); diff != "" {
		t.Errorf("node2's meta on node1 (-want +got):\n%s", diff)
	}
	if got[1].Addr != netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(p2)) || !got[0].Local || got[1].Local {
		t.Errorf("entries on node1 = %+v", got)
	}
	code, out, errs := n1.run("pick", "test", "--policy", "least:load")
	if code != 0 || !strings.HasPrefix(out, "test "+n1.node()+" ") && !strings.HasPrefix(out, "test "+n2.node()+" ") {
		t.Errorf("pick test = %d %q %q", code, out, errs)
	}
	code, out, _ = n2.run("members", "--json")
	if code != 0 || !slices.Equal(nodes(decodeLines(t, out)), want) {
		t.Errorf("members on node2 = %d %q", code, out)
	}
	joinLine := fmt.Sprintf("join test %s 127.0.0.1:%d {}", n1.node(), p1)
	waitFor(t, 5*time.Second, "node2 printing node1's join", func() bool { return hasLine(n2.stdout.String(), joinLine) })

	start := time.Now()
	if code := n2.stop(t); code != 0 {
		t.Fatalf("node2 exit %d after cancel: %s", code, n2.stderr)
	}
	waitFor(t, 3*time.Second, "node1 printing node2's leave", func() bool {
		for _, r := range decodeLines(t, n1.stdout.String()) {
			if r.Event == evLeave && r.Service == "test" && r.Node == n2.node() {
				return true
			}
		}
		return false
	})
	t.Logf("leave seen %s after the stop began", time.Since(start).Round(time.Millisecond))

	// Every line of --json output is an event.
	for _, r := range decodeLines(t, n1.stdout.String()) {
		if r.Event == "" || r.Node == "" {
			t.Errorf("event without event or node: %+v", r)
		}
	}
	if n := strings.Count(n1.stderr.String(), "line 3"); n != 1 {
		t.Errorf("node1 warned %d times about the bad line, want once:\n%s", n, n1.stderr)
	}
	if !strings.Contains(n1.stderr.String(), "unencrypted") {
		t.Errorf("no warning about unencrypted gossip:\n%s", n1.stderr)
	}
}

func TestClientCommands(t *testing.T) {
	t.Parallel()
	p := freePort(t)
	a := startAgent(t, "solo", p, hostfileOf(t, p), "--track", "web", "--meta", "port=80")
	addr := fmt.Sprintf("127.0.0.1:%d", p)

	ctx, cancel := context.WithCancel(context.Background())
	watchDone := make(chan int, 1)
	var watch, watchErr syncBuffer
	go func() {
		watchDone <- runApp(ctx, &watch, &watchErr, []string{"sdjoin", "watch", "--socket", a.sock})
	}()
	webJoin := "join web solo@127.0.0.1 " + addr + " {\"port\":\"80\"}\n"
	waitFor(t, 5*time.Second, "the watch to start", func() bool { return watch.String() == webJoin })
	// wantWatch is what the watch prints after the step. It is read
	// after each step: the agent cancels a pending join and leave of the
	// same entry, so a watch read only at the end may rightly miss them.
	steps := []struct {
		name      string
		args      []string
		wantCode  int
		wantOut   string
		wantWatch string
	}{
		{name: "list_table", args: []string{"list"}, wantOut: "SERVICE  NODE            ADDR             META\nweb      solo@127.0.0.1  " + addr + "  {\"port\":\"80\"}\n"},
		{name: "pick", args: []string{"pick", "web"}, wantOut: "web solo@127.0.0.1 " + addr + " {\"port\":\"80\"}\n"},
		{name: "pick_none", args: []string{"pick", "db"}, wantCode: cliutil.ExitNotFound},
		{name: "list_none", args: []string{"list", "db"}, wantCode: cliutil.ExitNotFound},
		{name: "track", args: []string{"track", "db", "--meta", "port=5432"},
			wantWatch: "join db solo@127.0.0.1 " + addr + " {\"port\":\"5432\"}\n"},
		{name: "pick_tracked", args: []string{"pick", "--policy", "local", "db"}, wantOut: "db solo@127.0.0.1 " + addr + " {\"port\":\"5432\"}\n"},
		{name: "track_again_updates", args: []string{"track", "db", "--meta", "port=5433"},
			wantWatch: "leave db solo@127.0.0.1\njoin db solo@127.0.0.1 " + addr + " {\"port\":\"5433\"}\n"},
		{name: "pick_updated", args: []string{"pick", "db", "--policy", "round-robin"}, wantOut: "db solo@127.0.0.1 " + addr + " {\"port\":\"5433\"}\n"},
		{name: "untrack", args: []string{"untrack", "db"}, wantWatch: "leave db solo@127.0.0.1\n"},
		{name: "untrack_unknown", args: []string{"untrack", "db"}, wantCode: cliutil.ExitNotFound},
		{name: "pick_bad_policy", args: []string{"pick", "web", "--policy", "fastest"}, wantCode: cliutil.ExitUsage},
		{name: "track_bad_meta", args: []string{"track", "db", "--meta", "novalue"}, wantCode: cliutil.ExitUsage},
		{name: "members", args: []string{"members"}, wantOut: "NODE            ADDR             NOTE\nsolo@127.0.0.1  " + addr + "  this agent\n"},
	}
	wantWatch := webJoin
	for _, s := range steps {
		code, out, errs := a.run(s.args...)
		if code != s.wantCode || s.wantOut != "" && out != s.wantOut {
			t.Errorf("%s: sdjoin %v = %d\n%s(stderr %q), want %d\n%s", s.name, s.args, code, out, errs, s.wantCode, s.wantOut)
		}
		if s.wantWatch != "" {
			wantWatch += s.wantWatch
			waitFor(t, 5*time.Second, "the watch to show "+s.name, func() bool { return len(watch.String()) >= len(wantWatch) })
		}
	}
	cancel()
	if code := <-watchDone; code != 0 || watch.String() != wantWatch {
		t.Errorf("watch = exit %d\n%s(stderr %q), want\n%s", code, watch.String(), watchErr.String(), wantWatch)
	}
}

func TestExitCodes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	none := filepath.Join(dir, "none.sock")
	tests := []struct {
		name    string
		args    []string
		want    int
		wantErr string
	}{
		{name: "unknown_flag", args: []string{"--bogus"}, want: 2},
		{name: "unknown_flag_client", args: []string{"list", "--bogus"}, want: 2},
		{name: "unknown_flag_after_arg", args: []string{"pick", "web", "--bogus"}, want: 2},
		{name: "bad_bind", args: []string{"--bind", "localhost:x"}, want: 2},
		{name: "bad_advertise", args: []string{"--advertise", "0.0.0.0"}, want: 2},
		{name: "bad_name", args: []string{"--name", "a@b"}, want: 2},
		{name: "meta_before_track", args: []string{"--meta", "a=b", "--track", "x"}, want: 2},
		{name: "stray_argument", args: []string{"test"}, want: 2, wantErr: "did you mean --track test"},
		{name: "pick_without_service", args: []string{"pick", "--socket", none}, want: 2},
		{name: "pick_two_services", args: []string{"pick", "a", "b", "--socket", none}, want: 2},
		{name: "no_agent", args: []string{"list", "--socket", none}, want: 1,
			wantErr: "sdjoin: no sdjoin agent at " + none + ": start one with `sdjoin --track NAME`\n"},
		{name: "no_agent_watch", args: []string{"watch", "--socket", none}, want: 1},
		{name: "key_file_missing", args: []string{"--key-file", filepath.Join(dir, "nokey"), "--socket", none}, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := runCLI(context.Background(), tt.args...)
			if code != tt.want {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.want, errs)
			}
			if strings.Count(errs, "\n") != 1 {
				t.Errorf("stderr is not one line: %q", errs)
			}
			if tt.wantErr != "" && !strings.Contains(errs, tt.wantErr) {
				t.Errorf("stderr %q does not contain %q", errs, tt.wantErr)
			}
		})
	}
}

func TestHostfileRereadAddsLatePeer(t *testing.T) {
	t.Parallel()
	p1, p2 := freePort(t), freePort(t)
	hosts1 := hostfileOf(t, p1) // only itself
	n1 := startAgent(t, "node1", p1, hosts1, "--track", "test")
	n2 := startAgent(t, "node2", p2, hostfileOf(t, p2), "--track", "test")
	// Neither knows the other.
	if got := nodes(n1.list(t, "test")); !slices.Equal(got, []string{n1.node()}) {
		t.Fatalf("node1 sees %v before the hostfile lists node2", got)
	}
	writeFile(t, hosts1, fmt.Sprintf("127.0.0.1:%d\n127.0.0.1:%d\n", p1, p2))
	want := fmt.Sprintf("member-join %s 127.0.0.1:%d", n2.node(), p2)
	waitFor(t, 5*time.Second, "node1 joining node2 after the hostfile changed", func() bool {
		return hasLine(n1.stdout.String(), want)
	})
	waitFor(t, 5*time.Second, "node2 seeing node1's service", func() bool {
		return slices.Equal(nodes(n2.list(t, "test")), []string{n1.node(), n2.node()})
	})
}

func TestRetriesFindLatePeer(t *testing.T) {
	t.Parallel()
	p1, p2 := freePort(t), freePort(t)
	n1 := startAgent(t, "node1", p1, hostfileOf(t, p1, p2), "--track", "test")
	waitFor(t, 5*time.Second, "node1 warning that no peer is reachable", func() bool {
		return strings.Contains(n1.stderr.String(), "no peer reachable yet")
	})
	// node2 knows nobody: only node1's retries can bring them together.
	n2 := startAgent(t, "node2", p2, hostfileOf(t, p2), "--track", "test")
	waitFor(t, 5*time.Second, "node2 seeing node1's service", func() bool {
		return slices.Equal(nodes(n2.list(t, "test")), []string{n1.node(), n2.node()})
	})
}

func TestIsolation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	keyFile := func(name string, key []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key := keyFile("key", []byte("0123456789abcdef0123456789abcdef"))
	other := keyFile("other", []byte("fedcba9876543210fedcba9876543210"))
	tests := []struct {
		name     string
		members  []string // flags of the two members
		intruder []string // flags of the third node
	}{
		{name: "no_key", members: []string{"--key-file", key}, intruder: nil},
		{name: "other_key", members: []string{"--key-file", key}, intruder: []string{"--key-file", other}},
		{name: "other_label", members: []string{"--cluster", "lab"}, intruder: []string{"--cluster", "elsewhere"}},
		{name: "no_label", members: []string{"--cluster", "lab"}, intruder: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pa, pb, pc := freePort(t), freePort(t), freePort(t)
			hosts := hostfileOf(t, pa, pb, pc)
			c := startAgent(t, "c", pc, hosts, append([]string{"--track", "test"}, tt.intruder...)...)
			a := startAgent(t, "a", pa, hosts, append([]string{"--track", "test"}, tt.members...)...)
			b := startAgent(t, "b", pb, hosts, append([]string{"--track", "test"}, tt.members...)...)
			want := []string{a.node(), b.node()}
			waitFor(t, 5*time.Second, "a and b seeing each other", func() bool {
				return slices.Equal(nodes(a.list(t, "test")), want) && slices.Equal(nodes(b.list(t, "test")), want)
			})
			// c retries every 150 ms: give it ten rounds, watching that
			// it never sees anything.
			end := time.Now().Add(1500 * time.Millisecond)
			for time.Now().Before(end) {
				if got := nodes(c.list(t, "test")); !slices.Equal(got, []string{c.node()}) {
					t.Fatalf("intruder sees %v", got)
				}
				if got := nodes(a.list(t, "test")); !slices.Equal(got, want) {
					t.Fatalf("a sees %v", got)
				}
				time.Sleep(50 * time.Millisecond)
			}
			if strings.Contains(a.stderr.String(), "unencrypted") != (tt.members[0] != "--key-file") {
				t.Errorf("unencrypted warning wrong on a:\n%s", a.stderr)
			}
		})
	}
}

func TestControlSocket(t *testing.T) {
	t.Parallel()
	p := freePort(t)
	a := startAgent(t, "sock", p, hostfileOf(t, p))
	fi, err := os.Stat(a.sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("control socket mode = %v, want socket 0600", fi.Mode())
	}
	// A second agent on the same socket is refused.
	code, _, errs := runCLI(context.Background(), "--name", "sock2", "--no-discover", "--bind", fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		"--socket", a.sock, "--hostfile", hostfileOf(t))
	if code != 1 || !strings.Contains(errs, "another sdjoin agent is running on "+a.sock) {
		t.Errorf("second agent on the socket: exit %d, stderr %q", code, errs)
	}
	if code := a.stop(t); code != 0 {
		t.Fatalf("agent exit %d", code)
	}
	if _, err := os.Stat(a.sock); !os.IsNotExist(err) {
		t.Errorf("socket left behind after exit: %v", err)
	}
}

func TestMissingHostfileWarnsOnceThenIsRead(t *testing.T) {
	t.Parallel()
	p1, p2 := freePort(t), freePort(t)
	n2 := startAgent(t, "node2", p2, hostfileOf(t, p2), "--track", "test")
	hosts := filepath.Join(t.TempDir(), "hosts")
	n1 := startAgent(t, "node1", p1, hosts, "--track", "test")
	waitFor(t, 5*time.Second, "the warning about the missing hostfile", func() bool {
		return strings.Contains(n1.stderr.String(), "warning: no hostfile")
	})
	time.Sleep(300 * time.Millisecond) // six more polls of the missing file
	if n := strings.Count(n1.stderr.String(), "no hostfile"); n != 1 {
		t.Errorf("%d warnings about the missing hostfile, want 1:\n%s", n, n1.stderr)
	}
	writeFile(t, hosts, fmt.Sprintf("127.0.0.1:%d\n", p2))
	waitFor(t, 5*time.Second, "node1 seeing node2 once the hostfile exists", func() bool {
		return slices.Equal(nodes(n1.list(t, "test")), []string{n1.node(), n2.node()})
	})
}

// TestMemberEventsOrdered: membership comes from the tracker's events,
// in order with the entries: a node's member-join before its entries'
// joins, their leaves before its member-leave.
func TestMemberEventsOrdered(t *testing.T) {
	t.Parallel()
	p1, p2 := freePort(t), freePort(t)
	hosts := hostfileOf(t, p1, p2)
	n1 := startAgent(t, "node1", p1, hosts, "--track", "test")
	n2 := startAgent(t, "node2", p2, hosts, "--track", "test")
	memberJoin := fmt.Sprintf("member-join %s 127.0.0.1:%d", n2.node(), p2)
	join := fmt.Sprintf("join test %s 127.0.0.1:%d {}", n2.node(), p2)
	waitFor(t, 5*time.Second, "node1 printing node2's join", func() bool { return hasLine(n1.stdout.String(), join) })
	if code := n2.stop(t); code != 0 {
		t.Fatalf("node2 exit %d", code)
	}
	leave, memberLeave := "leave test "+n2.node(), "member-leave "+n2.node()
	waitFor(t, 5*time.Second, "node1 printing node2's member-leave", func() bool { return hasLine(n1.stdout.String(), memberLeave) })
	lines := n1.stdout.lines()
	at := func(l string) int { return slices.Index(lines, l) }
	if !(at(memberJoin) >= 0 && at(memberJoin) < at(join) && at(join) < at(leave) && at(leave) < at(memberLeave)) {
		t.Errorf("node1's output, want %q, %q, %q, %q in that order:\n%s", memberJoin, join, leave, memberLeave, strings.Join(lines, "\n"))
	}
}

// An agent started before its peers, at the default --retry-interval,
// joins a peer that knows nobody soon after the peer starts: while the
// cluster forms it retries from 100 ms up to every second (it waited for
// the 30 s retry).
func TestRetriesSoonWhilePeersStart(t *testing.T) {
	t.Parallel()
	p1, p2 := freePort(t), freePort(t)
	n1 := startAgent(t, "node1", p1, hostfileOf(t, p1, p2), "--track", "test", "--retry-interval", "30s", "--verbose")
	waitFor(t, 10*time.Second, "node1 trying 5 times (the retries grown to 1 s)", func() bool {
		return strings.Count(n1.stderr.String(), "join tried=1 reached=0") >= 5
	})
	n2 := startAgent(t, "node2", p2, hostfileOf(t, p2), "--track", "test")
	started := time.Now()
	waitFor(t, 10*time.Second, "node1 seeing node2's service", func() bool {
		return slices.Equal(nodes(n1.list(t, "test")), []string{n1.node(), n2.node()})
	})
	if took, bound := time.Since(started), 2*retryFast; took > bound {
		t.Errorf("node1 saw node2 %v after it started, want under %v", took, bound)
	} else {
		t.Logf("node1 saw node2 %v after it started", took.Round(time.Millisecond))
	}
}

// Issue 15: once an agent has a member, a hostfile peer that does not
// answer is no longer probed at the fast pace (100 ms doubling to 1 s)
// but every --retry-interval: 30 agents started together each re-probed
// every peer gossip had not yet admitted.
func TestNoFastRetriesOnceInCluster(t *testing.T) {
	t.Parallel()
	p1, p2, dead := freePort(t), freePort(t), freePort(t)
	n2 := startAgent(t, "node2", p2, hostfileOf(t, p2), "--track", "test")
	n1 := startAgent(t, "node1", p1, hostfileOf(t, p1, p2, dead), "--track", "test", "--retry-interval", "30s", "--verbose")
	waitFor(t, 10*time.Second, "node1 seeing node2's service", func() bool {
		return slices.Equal(nodes(n1.list(t, "test")), []string{n1.node(), n2.node()})
	})
	time.Sleep(3 * retryFast) // the fast series would have run 5 rounds by now
	if n := strings.Count(n1.stderr.String(), "join tried="); n > 2 {
		t.Errorf("node1 ran %d join rounds in its first seconds in a cluster, want at most 2:\n%s", n, n1.stderr.String())
	}
}

func TestNextRetry(t *testing.T) {
	tests := []struct {
		name     string
		wait     time.Duration
		missing  bool
		age      time.Duration
		want     time.Duration
		wantNext bool
	}{
		{"first_round_missing", 0, true, 0, retryFirst, true},
		{"doubles", 200 * time.Millisecond, true, time.Second, 400 * time.Millisecond, true},
		{"capped", 800 * time.Millisecond, true, 5 * time.Second, retryFast, true},
		{"stays_capped", retryFast, true, 10 * time.Second, retryFast, true},
		{"none_missing_resets", retryFast, false, time.Second, 0, false},
		{"after_form_window", retryFast, true, formWindow, retryFast, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, next := nextRetry(tt.wait, tt.missing, tt.age)
			if got != tt.want || next != tt.wantNext {
				t.Errorf("nextRetry(%v, %v, %v) = %v, %v; want %v, %v", tt.wait, tt.missing, tt.age, got, next, tt.want, tt.wantNext)
			}
		})
	}
}
