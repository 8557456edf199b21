//go:build linux

package sdjoincmd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// TestLabRunProcessDeath: `sdjoin run` around a real HTTP server (busybox
// httpd) on one host of a lab; the peer on the other host stops listing
// it within leaveBound when the server is killed with SIGKILL (run exits
// 137), and when sdjoin run itself is (the server then gets SIGTERM and
// is not left running).
func TestLabRunProcessDeath(t *testing.T) {
	t.Parallel()
	lab.NeedTools(t, "busybox")
	l := lab.New(t, lab.Config{Hosts: 2})
	h0, h1 := l.Hosts[0], l.Hosts[1]
	hosts := filepath.Join(t.TempDir(), "hosts")
	writeFile(t, hosts, fmt.Sprintf("%s\n%s\n", h0.Addr, h1.Addr))
	a := startLabAgent(t, h0, "a", hosts)
	b := startLabAgent(t, h1, "b", hosts)
	waitFor(t, 10*time.Second, "b listing a's svc", func() bool { return len(b.list(t)) == 2 })

	for _, victim := range []string{"command", "run"} {
		t.Run(victim+"_killed", func(t *testing.T) {
			dir := t.TempDir()
			pidfile := filepath.Join(dir, "pid")
			script := fmt.Sprintf("echo $$ > %s; exec busybox httpd -f -p %s:8080 -h %s", pidfile, h0.Addr, dir)
			run := labRun(t, h0, a.sock, "--track", "web", "--meta", "port=8080", "--", "sh", "-c", script)
			server := readPID(t, pidfile)
			waitFor(t, 10*time.Second, "b listing web", func() bool { return len(b.listService(t, "web")) == 1 })
			pid := server
			if victim == "run" {
				pid = run.cmd.Process.Pid
				if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.TrimSpace(string(comm)) != "sdjoin" {
					t.Fatalf("process %d is %q, not sdjoin", pid, comm)
				}
			}
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed := time.Now()
			var took time.Duration
			waitFor(t, 10*time.Second, "b no longer listing web", func() bool {
				took = time.Since(killed)
				return len(b.listService(t, "web")) == 0
			})
			t.Logf("b stopped listing web %v after the %s was killed", took.Round(time.Millisecond), victim)
			if took > leaveBound {
				t.Errorf("b stopped listing web %v after the %s was killed, want under %v", took, victim, leaveBound)
			}
			if code := run.exitCode(t, 5*time.Second); code != 137 {
				t.Errorf("sdjoin run exit code %d, want 137", code)
			}
			waitFor(t, 5*time.Second, "the server gone", func() bool { return processGone(server) })
		})
	}
}

// labRun starts `sdjoin run args...` on h against the agent at sock.
func labRun(t *testing.T, h *lab.Host, sock string, args ...string) *proc {
	t.Helper()
	cmd := h.Command(context.Background(), buildBinary(t), append([]string{"run", "--socket", sock}, args...)...)
	return startProc(t, cmd, h.Start)
}
