//go:build unix

package sdjoincmd

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestListenControlOtherUsersDir: a default directory another user owns
// is refused with its owner named, not with chmod advice that cannot work.
func TestListenControlOtherUsersDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "planted")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	chownOther(t, dir)
	_, err := listenControl(filepath.Join(dir, "a.sock"), dirPrivate)
	if err == nil || !strings.Contains(err.Error(), "uid 65534") || strings.Contains(err.Error(), "chmod") {
		t.Errorf("listenControl in another user's default dir: %v; want it to name the owner, not advise chmod", err)
	}
}

// chownOther gives path to uid 65534 (nobody), skipping the test when
// not root.
func chownOther(t *testing.T, path string) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root to chown")
	}
	if err := os.Lchown(path, 65534, 65534); err != nil {
		t.Fatal(err)
	}
}

// TestListenControlNeverOpen: even with umask 0, the control socket
// never appears at its path with a mode that lets others connect.
func TestListenControlNeverOpen(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := t.TempDir()
	path := filepath.Join(dir, "a.sock")
	stop := make(chan struct{})
	seen := make(chan os.FileMode, 1)
	go func() {
		defer close(seen)
		var worst os.FileMode
		for {
			select {
			case <-stop:
				seen <- worst
				return
			default:
			}
			if fi, err := os.Lstat(path); err == nil {
				worst |= fi.Mode().Perm() & 0o077
			}
		}
	}()
	for range 300 {
		ln, err := listenControl(path, dirGiven)
		if err != nil {
			t.Fatal(err)
		}
		ln.Close()
	}
	close(stop)
	if m := <-seen; m != 0 {
		t.Errorf("the control socket was seen with permissions %#o for others", m)
	}
}

func TestDialError(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"permission_denied", &net.OpError{Op: "dial", Net: "unix", Err: os.NewSyscallError("connect", syscall.EACCES)}, "permission denied"},
		{"no_agent", &net.OpError{Op: "dial", Net: "unix", Err: os.NewSyscallError("connect", syscall.ENOENT)}, "no sdjoin agent at /s.sock"},
		{"refused", &net.OpError{Op: "dial", Net: "unix", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, "no sdjoin agent at /s.sock"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := dialError("/s.sock", tc.err).Error(); !strings.Contains(got, tc.want) {
				t.Errorf("dialError(%v) = %q, want %q in it", tc.err, got, tc.want)
			}
		})
	}
}

// plantAgent serves a fake agent on path that answers every request
// with a pick of 192.0.2.66 and records the requests it gets.
func plantAgent(t *testing.T, path string) *syncBuffer {
	t.Helper()
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got := &syncBuffer{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 4096)
			n, _ := c.Read(buf)
			got.Write(buf[:n])
			c.Write([]byte(`{"entries":[{"service":"web","node":"evil@192.0.2.66","addr":"192.0.2.66:80"}]}` + "\n"))
			c.Close()
		}
	}()
	return got
}

// TestClientRefusesPlantedSocket: client commands refuse a control
// socket another user could have planted, before sending anything.
func TestClientRefusesPlantedSocket(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) (sock string, args []string)
		want  string
	}{
		{
			name: "default_dir_of_other_user",
			setup: func(t *testing.T, dir string) (string, []string) {
				t.Setenv("XDG_RUNTIME_DIR", dir)
				d := filepath.Join(dir, "sdjoin")
				os.Mkdir(d, 0o755)
				sock := filepath.Join(d, "sdjoin.sock")
				plantAgent(t, sock)
				chownOther(t, sock)
				chownOther(t, d)
				return sock, nil
			},
			want: "uid 65534",
		},
		{
			name: "default_dir_open_to_others",
			setup: func(t *testing.T, dir string) (string, []string) {
				t.Setenv("XDG_RUNTIME_DIR", dir)
				d := filepath.Join(dir, "sdjoin")
				os.Mkdir(d, 0o777)
				os.Chmod(d, 0o777)
				sock := filepath.Join(d, "sdjoin.sock")
				plantAgent(t, sock)
				return sock, nil
			},
			want: "chmod 700",
		},
		{
			name: "socket_of_other_user",
			setup: func(t *testing.T, dir string) (string, []string) {
				sock := filepath.Join(dir, "a.sock")
				plantAgent(t, sock)
				chownOther(t, sock)
				return sock, []string{"--socket", sock}
			},
			want: "uid 65534",
		},
		{
			name: "socket_in_open_dir",
			setup: func(t *testing.T, dir string) (string, []string) {
				os.Chmod(dir, 0o777)
				sock := filepath.Join(dir, "a.sock")
				plantAgent(t, sock)
				return sock, []string{"--socket", sock}
			},
			want: "not sticky",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			sock, args := tt.setup(t, dir)
			code, out, errs := runCLI(t.Context(), append([]string{"pick", "web"}, args...)...)
			if code != 1 || out != "" || !strings.Contains(errs, tt.want) {
				t.Errorf("pick through %s: exit %d, stdout %q, stderr %q; want exit 1 and %q", sock, code, out, errs, tt.want)
			}
		})
	}
	t.Run("sticky_shared_dir_allowed", func(t *testing.T) {
		dir := t.TempDir()
		os.Chmod(dir, 0o777|os.ModeSticky)
		sock := filepath.Join(dir, "a.sock")
		plantAgent(t, sock)
		if code, out, errs := runCLI(t.Context(), "pick", "web", "--socket", sock); code != 0 || !strings.Contains(out, "192.0.2.66") {
			t.Errorf("pick through our socket in a sticky dir: exit %d, %q, %q", code, out, errs)
		}
	})
}

// TestClientSystemSocket: without a socket of their own, clients use
// the system service's (/run/sdjoin/NAME.sock) when its directory
// belongs to root or the service's user and only its owner may write to
// it, and the socket to that owner; anything else there is refused
// before sending anything.
func TestClientSystemSocket(t *testing.T) {
	tests := []struct {
		name  string
		user  string // the service's user name
		setup func(t *testing.T, runDir string)
		want  string // in stderr; "" for a successful pick
	}{
		{name: "root_dir", user: "sdjoin", setup: func(t *testing.T, d string) {}},
		{name: "service_user_dir", user: "nobody", setup: func(t *testing.T, d string) {
			chownOther(t, d)
			chownOther(t, filepath.Join(d, "sdjoin.sock"))
		}},
		{name: "dir_of_other_user", user: "sdjoin", setup: func(t *testing.T, d string) {
			chownOther(t, d)
		}, want: "not root or user sdjoin"},
		{name: "dir_writable_by_group", user: "sdjoin", setup: func(t *testing.T, d string) {
			os.Chmod(d, 0o770)
		}, want: "writable by others"},
		{name: "socket_of_other_user", user: "sdjoin", setup: func(t *testing.T, d string) {
			chownOther(t, filepath.Join(d, "sdjoin.sock"))
		}, want: "uid 65534"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runDir := filepath.Join(t.TempDir(), "sdjoin")
			if err := os.Mkdir(runDir, 0o750); err != nil {
				t.Fatal(err)
			}
			plantAgent(t, filepath.Join(runDir, "sdjoin.sock"))
			tt.setup(t, runDir)
			setSystemSocketDir(t, runDir, tt.user)
			t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
			code, out, errs := runCLI(t.Context(), "pick", "web")
			switch {
			case tt.want == "" && (code != 0 || !strings.Contains(out, "192.0.2.66")):
				t.Errorf("pick through %s: exit %d, %q, %q; want the planted agent's answer", runDir, code, out, errs)
			case tt.want != "" && (code != 1 || out != "" || !strings.Contains(errs, tt.want)):
				t.Errorf("pick through %s: exit %d, %q, %q; want exit 1 and %q", runDir, code, out, errs, tt.want)
			}
		})
	}
	t.Run("own_socket_first", func(t *testing.T) {
		runDir := filepath.Join(t.TempDir(), "sdjoin")
		os.Mkdir(runDir, 0o750)
		sys := plantAgent(t, filepath.Join(runDir, "sdjoin.sock"))
		setSystemSocketDir(t, runDir, "sdjoin")
		xdg := t.TempDir()
		t.Setenv("XDG_RUNTIME_DIR", xdg)
		os.Mkdir(filepath.Join(xdg, "sdjoin"), 0o700)
		own := plantAgent(t, filepath.Join(xdg, "sdjoin", "sdjoin.sock"))
		if code, _, errs := runCLI(t.Context(), "pick", "web"); code != 0 || own.String() == "" || sys.String() != "" {
			t.Errorf("pick with both sockets: exit %d (%s); own agent got %q, system one %q; want only our own asked", code, errs, own, sys)
		}
	})
}

// TestListenControlServiceDir: as a service, the agent's socket in
// $RUNTIME_DIRECTORY is 0660 (for the directory's group), and a
// directory others may write to is refused.
func TestListenControlServiceDir(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("RUNTIME_DIRECTORY", dir)
	path, kind := agentSocket("n1")
	if path != filepath.Join(dir, "n1.sock") || kind != dirSystem {
		t.Fatalf("agentSocket with RUNTIME_DIRECTORY = %s, %v", path, kind)
	}
	ln, err := listenControl(path, kind)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if fi, err := os.Lstat(path); err != nil || fi.Mode().Perm() != 0o660 {
		t.Errorf("service socket: %v, %v; want mode 0660", fi, err)
	}
	open := t.TempDir()
	os.Chmod(open, 0o777)
	if _, err := listenControl(filepath.Join(open, "n1.sock"), dirSystem); err == nil || !strings.Contains(err.Error(), "RuntimeDirectoryMode") {
		t.Errorf("listenControl in a 0777 RuntimeDirectory: %v; want a refusal naming RuntimeDirectoryMode", err)
	}
}
