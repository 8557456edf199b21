//go:build linux

package sdjoincmd

import (
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

// notifyListener is a stand-in for systemd's $NOTIFY_SOCKET.
type notifyListener struct {
	*net.UnixConn
	path string
}

func listenNotify(t *testing.T) *notifyListener {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &notifyListener{UnixConn: c, path: path}
}

// next returns the next state sent, failing the test after d.
func (n *notifyListener) next(t *testing.T, d time.Duration) string {
	t.Helper()
	n.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 256)
	k, err := n.Read(buf)
	if err != nil {
		t.Fatalf("no sd_notify message within %v: %v", d, err)
	}
	return string(buf[:k])
}

// TestBinaryServiceNotify runs the agent the way sdjoin.service does
// (RuntimeDirectory, Type=notify): READY=1 comes once the control socket
// answers, the socket is $RUNTIME_DIRECTORY/NAME.sock with mode 0660,
// clients without an agent of their own find it there, and SIGTERM sends
// STOPPING=1 before a clean exit.
func TestBinaryServiceNotify(t *testing.T) {
	runDir := filepath.Join(t.TempDir(), "sdjoin")
	if err := os.Mkdir(runDir, 0o750); err != nil {
		t.Fatal(err)
	}
	notify := listenNotify(t)
	hosts := filepath.Join(t.TempDir(), "hosts")
	writeFile(t, hosts, "")
	port := freePort(t)
	cmd := exec.Command(buildBinary(t), append([]string{"--name", "svc", "--bind", fmt.Sprintf("127.0.0.1:%d", port),
		"--hostfile", hosts, "--track", "web"}, fastKnobs...)...)
	cmd.Env = append(os.Environ(), "RUNTIME_DIRECTORY="+runDir, "NOTIFY_SOCKET="+notify.path)
	p := startProc(t, cmd, nil)

	if got := notify.next(t, 10*time.Second); got != "READY=1" {
		t.Fatalf("first sd_notify message %q, want READY=1", got)
	}
	sock := filepath.Join(runDir, "svc.sock")
	fi, err := os.Lstat(sock)
	if err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o660 {
		t.Fatalf("control socket after READY=1: %v, %v; want a socket with mode 0660", fi, err)
	}
	if !answering(sock) {
		t.Fatal("control socket does not answer after READY=1")
	}

	setSystemSocketDir(t, runDir, serviceUser)
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir()) // no agent of our own
	code, out, errs := runCLI(t.Context(), "list", "web", "--name", "svc")
	if code != 0 || !strings.Contains(out, "svc@127.0.0.1") {
		t.Errorf("list through the service's socket: exit %d, %q, %q", code, out, errs)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if got := notify.next(t, 10*time.Second); got != "STOPPING=1" {
		t.Errorf("sd_notify message after SIGTERM %q, want STOPPING=1", got)
	}
	if code := p.exitCode(t, 10*time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM, want 0: %s", code, p.stderr)
	}
}

// setSystemSocketDir points the clients at dir for the system service's
// sockets, run by user, until the test ends. Tests calling it must not
// be parallel.
func setSystemSocketDir(t *testing.T, dir, user string) {
	t.Helper()
	oldDir, oldUser := systemSocketDir, serviceUser
	systemSocketDir, serviceUser = dir, user
	t.Cleanup(func() { systemSocketDir, serviceUser = oldDir, oldUser })
}
