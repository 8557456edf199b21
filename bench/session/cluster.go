//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ipfinder-go/ipfinder/bench/internal/sdjoinbench"
	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// cluster is a three-host lab with an agent on each host.
type cluster struct {
	l     *lab.Lab
	bin   string
	dir   string
	socks []string
}

func startCluster(bin, dir string) (*cluster, error) {
	l, err := lab.Start(lab.Config{Hosts: 3})
	if err != nil {
		return nil, err
	}
	c := &cluster{l: l, bin: bin, dir: dir}
	var peers strings.Builder
	for _, h := range l.Hosts {
		fmt.Fprintln(&peers, h.Addr)
	}
	hostfile := filepath.Join(dir, "hosts")
	if err := os.WriteFile(hostfile, []byte(peers.String()), 0o600); err != nil {
		l.Close()
		return nil, err
	}
	for i, h := range l.Hosts {
		sock := filepath.Join(dir, fmt.Sprintf("n%d.sock", i))
		cmd := h.Command(context.Background(), bin, "--name", fmt.Sprintf("n%d", i), "--socket", sock,
			"--hostfile", hostfile, "--hostfile-poll", "200ms", "--no-discover")
		if err := h.Start(cmd); err != nil {
			l.Close()
			return nil, err
		}
		c.socks = append(c.socks, sock)
	}
	for _, s := range c.socks[1:] {
		if err := sdjoinbench.WaitUntil(15*time.Second, 10*time.Millisecond, "three members", func() bool { return members(s) == 3 }); err != nil {
			l.Close()
			return nil, err
		}
	}
	return c, nil
}

func (c *cluster) close() { c.l.Close() }

// scenario is one way for the service to go away: kill returns when it
// happened.
type scenario struct {
	name  string
	check bool // track web with an HTTP check at 1 s
	kill  func(run *exec.Cmd, server int, docroot string) (time.Time, error)
}

var scenarios = []scenario{
	{name: "kill -9 of the command under sdjoin run", kill: func(_ *exec.Cmd, server int, _ string) (time.Time, error) {
		return time.Now(), syscall.Kill(server, syscall.SIGKILL)
	}},
	{name: "kill -9 of sdjoin run", kill: func(run *exec.Cmd, _ int, _ string) (time.Time, error) {
		return time.Now(), run.Process.Kill()
	}},
	{name: "HTTP check failing, 1 s interval", check: true, kill: func(_ *exec.Cmd, _ int, docroot string) (time.Time, error) {
		return time.Now(), os.Remove(filepath.Join(docroot, "health"))
	}},
}

// measure runs web under sdjoin run on the first host, waits until the
// other agents list it, makes it go away as sc says and returns how long
// until the last of them reported its leave.
func (c *cluster) measure(sc scenario) (time.Duration, error) {
	h := c.l.Hosts[0]
	docroot, err := os.MkdirTemp(c.dir, "www-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(docroot)
	if err := os.WriteFile(filepath.Join(docroot, "health"), []byte("ok\n"), 0o644); err != nil {
		return 0, err
	}
	pidfile := filepath.Join(docroot, "pid")
	listen := h.Addr.String() + ":8080"
	args := []string{"run", "--socket", c.socks[0], "--track", "web"}
	if sc.check {
		args = append(args, "--check", "http://"+listen+"/health", "--check-interval", "1s")
	}
	args = append(args, "--", "sh", "-c", fmt.Sprintf("echo $$ > %s; exec busybox httpd -f -p %s -h %s", pidfile, listen, docroot))
	run := h.Command(context.Background(), c.bin, args...)
	if err := h.Start(run); err != nil {
		return 0, err
	}
	defer func() { run.Process.Kill(); run.Wait() }()
	var watches []*watch
	for _, s := range c.socks[1:] {
		w, err := startWatch(s, "web")
		if err != nil {
			return 0, err
		}
		defer w.close()
		watches = append(watches, w)
	}
	for _, w := range watches {
		if _, err := w.next("join", 15*time.Second); err != nil {
			return 0, err
		}
	}
	server, err := readPID(pidfile)
	if err != nil {
		return 0, err
	}
	at, err := sc.kill(run, server, docroot)
	if err != nil {
		return 0, err
	}
	var last time.Duration
	for _, w := range watches {
		seen, err := w.next("leave", 15*time.Second)
		if err != nil {
			return 0, err
		}
		last = max(last, seen.Sub(at))
	}
	syscall.Kill(server, syscall.SIGKILL)
	return last, nil
}

// watch is a control-socket watch: each event with the time it arrived.
type watch struct {
	c      net.Conn
	events chan event
}

type event struct {
	name string
	at   time.Time
}

func startWatch(sock, service string) (*watch, error) {
	c, err := net.DialTimeout("unix", sock, time.Second)
	if err != nil {
		return nil, err
	}
	if _, err := fmt.Fprintf(c, `{"op":"watch","service":%q}`+"\n", service); err != nil {
		c.Close()
		return nil, err
	}
	w := &watch{c: c, events: make(chan event, 64)}
	go func() {
		defer close(w.events)
		sc := bufio.NewScanner(c)
		sc.Scan() // the {} reply
		for sc.Scan() {
			var r struct {
				Event string `json:"event"`
			}
			if json.Unmarshal(sc.Bytes(), &r) == nil {
				w.events <- event{r.Event, time.Now()}
			}
		}
	}()
	return w, nil
}

// next returns when the next event named name arrived.
func (w *watch) next(name string, within time.Duration) (time.Time, error) {
	timeout := time.After(within)
	for {
		select {
		case ev, ok := <-w.events:
			if !ok {
				return time.Time{}, fmt.Errorf("watch closed before a %s", name)
			}
			if ev.name == name {
				return ev.at, nil
			}
		case <-timeout:
			return time.Time{}, fmt.Errorf("no %s within %v", name, within)
		}
	}
}

func (w *watch) close() { w.c.Close() }

// members returns how many members the agent at sock lists (0 on error).
func members(sock string) int {
	var r struct {
		Members []json.RawMessage `json:"members"`
	}
	sdjoinbench.Call(sock, `{"op":"members"}`, &r)
	return len(r.Members)
}

func readPID(path string) (int, error) {
	var pid int
	err := sdjoinbench.WaitUntil(10*time.Second, 10*time.Millisecond, "a PID in "+path, func() bool {
		b, _ := os.ReadFile(path)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return pid > 0
	})
	return pid, err
}
