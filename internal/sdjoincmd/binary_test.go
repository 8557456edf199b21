package sdjoincmd

import (
	"errors"
	"fmt"
	"io"
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
		p.cmd = exec.Command(bin, "--name", name, "--no-discover", "--bind", fmt.Sprintf("127.0.0.1:%d", port),
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
		waitFor(t, 5*time.Second, name+" control socket", func() bool { return answering(p.sock) })
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

// binAgent is a real sdjoin agent process on loopback.
type binAgent struct {
	cmd    *exec.Cmd
	port   int
	sock   string
	stderr *syncBuffer
	exited chan struct{} // closed when Wait returned
	took   time.Time     // when it exited
}

// startBinAgent runs the sdjoin binary with args plus --socket (in a new
// directory) and --bind 127.0.0.1:PORT (a free port), with stdout going
// to stdout (a *syncBuffer when nil), and waits for its control socket.
// It is killed when the test ends.
func startBinAgent(t *testing.T, stdout io.Writer, args ...string) *binAgent {
	t.Helper()
	return startBinCmd(t, stdout, "", args...)
}

// startBinCmd is startBinAgent, run through `sh -c 'SHELL; exec sdjoin
// ...'` when shell is not empty (to set limits first).
func startBinCmd(t *testing.T, stdout io.Writer, shell string, args ...string) *binAgent {
	t.Helper()
	bin := buildBinary(t)
	a := &binAgent{port: freePort(t), sock: filepath.Join(t.TempDir(), "a.sock"), stderr: &syncBuffer{}, exited: make(chan struct{})}
	argv := append([]string{"--socket", a.sock, "--no-discover", "--bind", fmt.Sprintf("127.0.0.1:%d", a.port)}, args...)
	if shell != "" {
		argv = append([]string{"-c", shell + ` && exec "$0" "$@"`, bin}, argv...)
		a.cmd = exec.Command("sh", argv...)
	} else {
		a.cmd = exec.Command(bin, argv...)
	}
	if stdout == nil {
		stdout = &syncBuffer{}
	}
	a.cmd.Stdout, a.cmd.Stderr = stdout, a.stderr
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		a.cmd.Wait()
		a.took = time.Now()
		close(a.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-a.exited:
		default:
			a.cmd.Process.Kill()
			<-a.exited
		}
		if t.Failed() {
			t.Logf("agent stderr:\n%s", a.stderr)
		}
	})
	waitFor(t, 10*time.Second, "the agent's control socket", func() bool {
		select {
		case <-a.exited:
			t.Fatalf("agent exited: %v\n%s", a.cmd.ProcessState, a.stderr)
		default:
		}
		return answering(a.sock)
	})
	return a
}

// signal sends sig to the agent.
func (a *binAgent) signal(t *testing.T, sig syscall.Signal) time.Time {
	t.Helper()
	if err := a.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	return time.Now()
}

// exitWithin waits up to d for the agent to exit and returns how long it
// took since from; it fails the test if it did not exit.
func (a *binAgent) exitWithin(t *testing.T, from time.Time, d time.Duration) time.Duration {
	t.Helper()
	select {
	case <-a.exited:
		return a.took.Sub(from)
	case <-time.After(d):
		t.Fatalf("agent still running %v after the signal", d)
		return 0
	}
}
