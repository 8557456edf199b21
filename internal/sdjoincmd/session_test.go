package sdjoincmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/cliutil"
)

// leaveBound is how soon peers must stop listing a session's entry
// once its process is gone: the graceful-leave bound (under 0.5 s on a
// LAN) with room for a loaded test machine, and well under the crash
// bound (memberlist's suspicion timeout, several seconds).
const leaveBound = 1500 * time.Millisecond

// loopAgent is a real agent process on loopback.
type loopAgent struct {
	name   string
	port   int
	sock   string
	stderr *syncBuffer
	cmd    *exec.Cmd
	exited chan struct{}
}

// startLoopAgent runs the sdjoin binary as NAME on 127.0.0.1:port with
// the control socket sock and hostfile, plus args, and waits for its
// socket. It is killed when the test ends.
func startLoopAgent(t *testing.T, name, sock string, port int, hostfile string, args ...string) *loopAgent {
	t.Helper()
	a := &loopAgent{name: name, port: port, sock: sock, stderr: &syncBuffer{}, exited: make(chan struct{})}
	argv := append([]string{"--name", name, "--no-discover", "--bind", fmt.Sprintf("127.0.0.1:%d", port),
		"--socket", sock, "--hostfile", hostfile}, fastKnobs...)
	a.cmd = exec.Command(buildBinary(t), append(argv, args...)...)
	a.cmd.Stdout, a.cmd.Stderr = &syncBuffer{}, a.stderr
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { a.cmd.Wait(); close(a.exited) }()
	t.Cleanup(func() {
		a.cmd.Process.Kill()
		<-a.exited
		if t.Failed() {
			t.Logf("%s stderr:\n%s", name, a.stderr)
		}
	})
	waitFor(t, 10*time.Second, name+" control socket", func() bool {
		select {
		case <-a.exited:
			t.Fatalf("%s exited: %v\n%s", name, a.cmd.ProcessState, a.stderr)
		default:
		}
		return answering(sock)
	})
	return a
}

// stop sends SIGTERM and waits for the agent to exit.
func (a *loopAgent) stop(t *testing.T) {
	t.Helper()
	a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s still running 10 s after SIGTERM", a.name)
	}
}

// agentPair runs two agents, a and b, on loopback that join each other;
// extra are more flags of a.
func agentPair(t *testing.T, extra ...string) (a, b *loopAgent) {
	t.Helper()
	dir := t.TempDir()
	pa, pb := freePort(t), freePort(t)
	hosts := hostfileOf(t, pa, pb)
	a = startLoopAgent(t, "a", filepath.Join(dir, "a.sock"), pa, hosts, extra...)
	b = startLoopAgent(t, "b", filepath.Join(dir, "b.sock"), pb, hosts)
	waitFor(t, 10*time.Second, "a and b joining", func() bool {
		_, out, _ := runCLI(context.Background(), "members", "--json", "--socket", b.sock)
		return strings.Contains(out, `"a@127.0.0.1"`)
	})
	return a, b
}

// entries returns the entries of service an agent lists (none on exit 3).
func entries(t *testing.T, sock, service string) []record {
	t.Helper()
	code, out, errs := runCLI(context.Background(), "list", service, "--json", "--socket", sock)
	switch code {
	case 0:
		return decodeLines(t, out)
	case cliutil.ExitNotFound:
		return nil
	}
	t.Fatalf("list %s: exit %d: %s", service, code, errs)
	return nil
}

// localEntries returns the agent's own entries (list --local --json).
func localEntries(t *testing.T, sock string) []record {
	t.Helper()
	code, out, errs := runCLI(context.Background(), "list", "--local", "--json", "--socket", sock)
	switch code {
	case 0:
		return decodeLines(t, out)
	case cliutil.ExitNotFound:
		return nil
	}
	t.Fatalf("list --local: exit %d: %s", code, errs)
	return nil
}

// metas returns the value of meta key of each record, sorted.
func metas(rs []record, key string) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Meta[key])
	}
	slices.Sort(out)
	return out
}

// waitMetas waits until sock lists service with exactly the meta
// "port" values want (none: not listed), and returns when it saw it.
func waitMetas(t *testing.T, sock, service string, within time.Duration, want ...string) time.Time {
	t.Helper()
	slices.Sort(want)
	var seen time.Time
	waitFor(t, within, fmt.Sprintf("%s listing %s with ports %v", sock, service, want), func() bool {
		got := metas(entries(t, sock, service), "port")
		seen = time.Now()
		return slices.Equal(got, want)
	})
	return seen
}

// proc is a client process (sdjoin run, track --hold).
type proc struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	exited chan struct{}
}

// startProc starts cmd, killed when the test ends.
func startProc(t *testing.T, cmd *exec.Cmd, start func(*exec.Cmd) error) *proc {
	t.Helper()
	p := &proc{cmd: cmd, stderr: &syncBuffer{}, exited: make(chan struct{})}
	if cmd.Stdout == nil {
		cmd.Stdout = &syncBuffer{}
	}
	cmd.Stderr = p.stderr
	if start == nil {
		start = (*exec.Cmd).Start
	}
	if err := start(cmd); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("%s stderr:\n%s", cmd.Args, p.stderr)
		}
	})
	return p
}

// sdjoinProc starts the sdjoin binary with args.
func sdjoinProc(t *testing.T, args ...string) *proc {
	t.Helper()
	return startProc(t, exec.Command(buildBinary(t), args...), nil)
}

// exitCode waits up to d for the process to exit and returns its code
// (128+n when signal n killed it).
func (p *proc) exitCode(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(d):
		t.Fatalf("%s still running after %v", p.cmd.Args, d)
	}
	ws := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// readPID waits for a process to write its PID to path.
func readPID(t *testing.T, path string) int {
	t.Helper()
	var pid int
	waitFor(t, 10*time.Second, "a PID in "+path, func() bool {
		b, err := os.ReadFile(path)
		if err != nil {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && pid > 0
	})
	return pid
}

// processGone reports whether pid has exited (gone, or a zombie).
func processGone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return strings.HasPrefix(rest, "Z")
}

// TestRunExitStatus: sdjoin run exits with the command's status, 128+n
// when signal n killed it, 127 when it is not found; its entry is listed
// while the command runs and gone once it exits.
func TestRunExitStatus(t *testing.T) {
	t.Parallel()
	a, b := agentPair(t)
	tests := []struct {
		name   string
		script string // run with sh -c once the entry is listed
		want   int
	}{
		{name: "exit_7", script: "exit 7", want: 7},
		{name: "exit_0", script: "exit 0", want: 0},
		{name: "killed_by_sigterm", script: "kill -TERM $$", want: 143},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			gate := filepath.Join(dir, "go")
			port := strconv.Itoa(9000 + i)
			// The command waits for the gate file, then ends as the case says.
			script := fmt.Sprintf("while [ ! -e %s ]; do sleep 0.05; done; %s", gate, tt.script)
			p := sdjoinProc(t, "run", "--socket", a.sock, "--track", "web", "--meta", "port="+port, "--", "sh", "-c", script)
			waitMetas(t, b.sock, "web", 10*time.Second, port)
			writeFile(t, gate, "")
			if got := p.exitCode(t, 10*time.Second); got != tt.want {
				t.Errorf("exit code %d, want %d", got, tt.want)
			}
			waitMetas(t, b.sock, "web", leaveBound)
			if got := localEntries(t, a.sock); len(got) != 0 {
				t.Errorf("a still has entries %+v", got)
			}
		})
	}
	t.Run("not_found", func(t *testing.T) {
		p := sdjoinProc(t, "run", "--socket", a.sock, "--track", "web", "--", "/nonexistent/cmd")
		if got := p.exitCode(t, 10*time.Second); got != 127 {
			t.Errorf("exit code %d, want 127", got)
		}
		if !strings.Contains(p.stderr.String(), "/nonexistent/cmd") {
			t.Errorf("stderr %q does not name the command", p.stderr)
		}
		if got := localEntries(t, a.sock); len(got) != 0 {
			t.Errorf("a still has entries %+v", got)
		}
	})
}

// TestRunTwoInstances: two sessions tracking one service on one node are
// two entries with keys of their own; killing one command removes only
// its entry. The agent's own --track entry keeps the agent's key.
func TestRunTwoInstances(t *testing.T) {
	t.Parallel()
	a, b := agentPair(t, "--track", "web", "--meta", "port=80")
	dir := t.TempDir()
	var pids []int
	for _, port := range []string{"8080", "8081"} {
		pidfile := filepath.Join(dir, port)
		sdjoinProc(t, "run", "--socket", a.sock, "--track", "web", "--meta", "port="+port,
			"--", "sh", "-c", "echo $$ > "+pidfile+"; exec sleep 600")
		pids = append(pids, readPID(t, pidfile))
	}
	waitMetas(t, b.sock, "web", 10*time.Second, "80", "8080", "8081")
	keys := map[string]string{}
	for _, r := range entries(t, b.sock, "web") {
		keys[r.Meta["port"]] = r.Key
	}
	if keys["80"] != trackKey || keys["8080"] == keys["8081"] || keys["8080"] == trackKey || keys["8081"] == trackKey {
		t.Errorf("keys by port %v: want %q for the agent's entry and two other, distinct keys", keys, trackKey)
	}
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitMetas(t, b.sock, "web", leaveBound+time.Second, "80", "8081")
}

// TestRunForwardsSignals: SIGTERM and SIGHUP sent to sdjoin run reach
// the command, which decides when to stop; run exits with its status.
func TestRunForwardsSignals(t *testing.T) {
	t.Parallel()
	a, _ := agentPair(t)
	dir := t.TempDir()
	ready, hup := filepath.Join(dir, "ready"), filepath.Join(dir, "hup")
	script := fmt.Sprintf("trap 'touch %s' HUP; trap 'exit 5' TERM; touch %s; while :; do sleep 0.05; done", hup, ready)
	p := sdjoinProc(t, "run", "--socket", a.sock, "--track", "web", "--", "sh", "-c", script)
	waitFor(t, 10*time.Second, "the command starting", func() bool { _, err := os.Stat(ready); return err == nil })
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, 5*time.Second, "the command getting SIGHUP", func() bool { _, err := os.Stat(hup); return err == nil })
	select {
	case <-p.exited:
		t.Fatalf("run exited on SIGHUP: %v", p.cmd.ProcessState)
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if got := p.exitCode(t, 10*time.Second); got != 5 {
		t.Errorf("exit code %d after SIGTERM, want the command's 5", got)
	}
}

// TestTrackHold: track --hold keeps the entry until it is interrupted
// (exit 0) or killed.
func TestTrackHold(t *testing.T) {
	t.Parallel()
	a, b := agentPair(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			p := sdjoinProc(t, "track", "db", "--hold", "--meta", "port=5432", "--socket", a.sock)
			waitMetas(t, b.sock, "db", 10*time.Second, "5432")
			p.cmd.Process.Signal(sig)
			code := p.exitCode(t, 5*time.Second)
			if want := map[syscall.Signal]int{syscall.SIGINT: 0, syscall.SIGKILL: 137}[sig]; code != want {
				t.Errorf("exit code %d, want %d", code, want)
			}
			waitMetas(t, b.sock, "db", leaveBound)
		})
	}
}

// TestRunReconnect: when the agent restarts under a live session, the
// session connects again and tracks its entries again within a few
// seconds, while the command keeps running.
func TestRunReconnect(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sock, port := filepath.Join(dir, "a.sock"), freePort(t)
	hosts := hostfileOf(t, port)
	a := startLoopAgent(t, "a", sock, port, hosts)
	p := sdjoinProc(t, "run", "--socket", sock, "--track", "web", "--meta", "port=8080", "--", "sleep", "600")
	waitMetas(t, sock, "web", 10*time.Second, "8080")
	a.stop(t)
	restarted := time.Now()
	startLoopAgent(t, "a", sock, port, hosts)
	seen := waitMetas(t, sock, "web", 5*time.Second, "8080")
	t.Logf("entry back %v after the agent restarted", seen.Sub(restarted).Round(time.Millisecond))
	select {
	case <-p.exited:
		t.Fatalf("run exited while the agent was away: %v", p.cmd.ProcessState)
	default:
	}
	// run says so once the agent acknowledged its session, which may come
	// after the entry is visible.
	waitFor(t, 5*time.Second, "run's stderr reporting the reconnection", func() bool {
		return strings.Contains(p.stderr.String(), "reconnected")
	})
}

// TestRunUsage: bad flags of run, track and the agent are usage errors
// (exit 2) naming what is wrong; nothing is run or tracked.
func TestRunUsage(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "none.sock")
	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"run_no_track", []string{"run", "--socket", sock, "--", "true"}, "run needs --track NAME"},
		{"run_no_command", []string{"run", "--socket", sock, "--track", "web"}, "run needs a command"},
		{"run_check_first", []string{"run", "--socket", sock, "--check", "tcp://127.0.0.1:1", "--track", "web", "--", "true"}, "--check tcp://127.0.0.1:1 must follow the --track"},
		{"run_bad_spec", []string{"run", "--socket", sock, "--track", "web", "--check", "ftp://x", "--", "true"}, `bad check "ftp://x"`},
		{"run_bad_exec", []string{"run", "--socket", sock, "--track", "web", "--check", "exec:a | b", "--", "true"}, `bad check "exec:a | b"`},
		{"run_interval_first", []string{"run", "--socket", sock, "--check-interval", "1s", "--track", "web", "--", "true"}, "--check-interval 1s must follow"},
		{"run_short_interval", []string{"run", "--socket", sock, "--track", "web", "--check", "tcp://127.0.0.1:1", "--check-interval", "1ms", "--", "true"}, "bad --check-interval 1ms"},
		{"track_bad_spec", []string{"track", "web", "--socket", sock, "--check", "tcp://nope"}, `bad check "tcp://nope"`},
		{"agent_check_first", []string{"--socket", sock, "--check", "tcp://127.0.0.1:1", "--track", "web"}, "--check tcp://127.0.0.1:1 must follow the --track"},
		{"agent_bad_spec", []string{"--socket", sock, "--track", "web", "--check", "http//x"}, `bad check "http//x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := runCLI(context.Background(), tt.args...)
			if code != cliutil.ExitUsage || !strings.Contains(errs, tt.want) {
				t.Errorf("sdjoin %s: exit %d, stderr %q; want exit 2 and %q", strings.Join(tt.args, " "), code, errs, tt.want)
			}
		})
	}
}

// TestRunNoAgent: run without an agent fails (exit 1) without running
// the command.
func TestRunNoAgent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	p := sdjoinProc(t, "run", "--socket", filepath.Join(dir, "none.sock"), "--track", "web", "--", "touch", marker)
	if got := p.exitCode(t, 10*time.Second); got != 1 {
		t.Errorf("exit code %d, want 1", got)
	}
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the command ran without an agent (%v)", err)
	}
	if !strings.Contains(p.stderr.String(), "no sdjoin agent at") {
		t.Errorf("stderr %q does not explain", p.stderr)
	}
}
