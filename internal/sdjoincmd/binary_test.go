package sdjoincmd

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBinaryTwoAgents runs the real command: two agents find each other,
// SIGTERM makes one leave gracefully (exit 0) and the other print it.
func TestBinaryTwoAgents(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	dir := t.TempDir()
	p1, p2 := freePort(t), freePort(t)
	hosts := hostfileOf(t, p1, p2)
	type proc struct {
		cmd    *exec.Cmd
		sock   string
		stdout *syncBuffer
		stderr *syncBuffer
	}
	start := func(name string, port int) *proc {
		p := &proc{sock: filepath.Join(dir, name+".sock"), stdout: &syncBuffer{}, stderr: &syncBuffer{}}
		p.cmd = exec.Command(bin, "--name", name, "--bind", fmt.Sprintf("127.0.0.1:%d", port),
			"--hostfile", hosts, "--socket", p.sock, "--track", "test")
		p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if p.cmd.ProcessState == nil {
				p.cmd.Process.Kill()
				p.cmd.Wait()
			}
		})
		waitFor(t, 5*time.Second, name+" control socket", func() bool {
			c, err := net.Dial("unix", p.sock)
			if err == nil {
				c.Close()
			}
			return err == nil
		})
		return p
	}
	n1 := start("node1", p1)
	n2 := start("node2", p2)
	join := fmt.Sprintf("join test node2@127.0.0.1 127.0.0.1:%d {}", p2)
	waitFor(t, 5*time.Second, "node1 printing node2's join", func() bool { return hasLine(n1.stdout.String(), join) })
	out, err := exec.Command(bin, "pick", "test", "--socket", n1.sock).Output()
	if err != nil || !strings.HasPrefix(string(out), "test node") {
		t.Errorf("sdjoin pick test = %q, %v", out, err)
	}
	err = exec.Command(bin, "pick", "nothing", "--socket", n1.sock).Run()
	if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Errorf("sdjoin pick nothing: %v, want exit 3", err)
	}

	if err := n2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := n2.cmd.Wait(); err != nil {
		t.Errorf("node2 after SIGTERM: %v (stderr %s)", err, n2.stderr)
	}
	waitFor(t, 3*time.Second, "node1 printing node2's leave", func() bool {
		return hasLine(n1.stdout.String(), "leave test node2@127.0.0.1")
	})
	if _, err := os.Stat(n2.sock); !os.IsNotExist(err) {
		t.Errorf("node2 left its socket behind: %v", err)
	}
	if err := n1.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := n1.cmd.Wait(); err != nil {
		t.Errorf("node1 after SIGINT: %v", err)
	}
	t.Logf("node1 stdout:\n%s", n1.stdout)
}
