//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ipfinder-go/ipfinder/bench/internal/sdjoinbench"
	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// Ports inside the bench's namespace: agent i gossips on gossipBase+i and
// serf's RPC listens on rpcBase+i. The namespace is ours, so they are free.
const (
	gossipBase = 17000
	rpcBase    = 18000
)

// system is sdjoin or serf: how to start agent i of a cluster in the
// host's namespace and ask it what it lists.
type system interface {
	name() string
	// command returns agent i's command line; every agent tracks svcI.
	command(i, n int) []string
	// connect waits until agent i answers its local API.
	connect(i int) error
	// services returns the services agent i lists on live nodes.
	services(i int) (map[string]bool, error)
	// add makes agent i provide one more service.
	add(i int, service string) error
	// stopSignal is the signal that makes an agent leave gracefully.
	stopSignal() syscall.Signal
	closeAPI()
}

// cluster is n agents of one system, each a process in host h.
type cluster struct {
	sys   system
	h     *lab.Host
	dir   string
	procs []*exec.Cmd
	alive []bool
}

// startCluster starts agent 0, waits until it answers, then starts the
// others at once; it returns when they are all started (not joined).
func startCluster(sys system, h *lab.Host, dir string, n int) (*cluster, time.Time, error) {
	c := &cluster{sys: sys, h: h, dir: dir}
	if err := c.startAgent(0, n); err != nil {
		return c, time.Time{}, err
	}
	if err := sys.connect(0); err != nil {
		return c, time.Time{}, err
	}
	for i := 1; i < n; i++ {
		if err := c.startAgent(i, n); err != nil {
			return c, time.Time{}, err
		}
	}
	started := time.Now()
	for i := 1; i < n; i++ {
		if err := sys.connect(i); err != nil {
			return c, started, err
		}
	}
	return c, started, nil
}

func (c *cluster) startAgent(i, n int) error {
	args := c.sys.command(i, n)
	cmd := c.h.Command(context.Background(), args[0], args[1:]...)
	out, err := os.Create(filepath.Join(c.dir, fmt.Sprintf("%s-%d.log", c.sys.name(), i)))
	if err != nil {
		return err
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := c.h.Start(cmd); err != nil {
		return err
	}
	c.procs = append(c.procs, cmd)
	c.alive = append(c.alive, true)
	return nil
}

// logs returns agent i's output so far.
func (c *cluster) logs(i int) string {
	b, _ := os.ReadFile(filepath.Join(c.dir, fmt.Sprintf("%s-%d.log", c.sys.name(), i)))
	return string(b)
}

// close kills every agent and waits for them.
func (c *cluster) close() {
	c.sys.closeAPI()
	for _, p := range c.procs {
		p.Process.Kill()
		p.Wait()
	}
}

// kill stops agent i with sig and notes it gone.
func (c *cluster) kill(i int, sig syscall.Signal) error {
	c.alive[i] = false
	return c.procs[i].Process.Signal(sig)
}

// until polls every live agent but skip until each satisfies cond, and
// returns when the first and the last did, from start.
func (c *cluster) until(start time.Time, within time.Duration, skip int, cond func(map[string]bool) bool) (first, last time.Duration, err error) {
	done := make([]bool, len(c.procs))
	left := 0
	for i := range c.procs {
		if c.alive[i] && i != skip {
			left++
		} else {
			done[i] = true
		}
	}
	first = -1
	deadline := start.Add(within)
	for left > 0 {
		for i := range c.procs {
			if done[i] {
				continue
			}
			s, err := c.sys.services(i)
			if err != nil || !cond(s) {
				continue
			}
			d := time.Since(start)
			done[i], left = true, left-1
			if first < 0 {
				first = d
			}
			last = d
		}
		if time.Now().After(deadline) {
			return first, last, fmt.Errorf("%d agents not there after %v", left, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return first, last, nil
}

// sdjoinSys runs the sdjoin binary; its control sockets are in dir.
type sdjoinSys struct {
	bin, dir string
	verbose  bool
}

func (s *sdjoinSys) name() string { return "sdjoin" }

func (s *sdjoinSys) sock(i int) string { return filepath.Join(s.dir, fmt.Sprintf("sd%d.sock", i)) }

func (s *sdjoinSys) command(i, n int) []string {
	hostfile := filepath.Join(s.dir, "hosts")
	if i == 0 {
		var b strings.Builder
		for j := range n {
			fmt.Fprintf(&b, "127.0.0.1:%d\n", gossipBase+j)
		}
		os.WriteFile(hostfile, []byte(b.String()), 0o600)
	}
	args := []string{s.bin, "--name", fmt.Sprintf("a%d", i), "--bind", fmt.Sprintf("127.0.0.1:%d", gossipBase+i),
		"--hostfile", hostfile, "--socket", s.sock(i), "--track", fmt.Sprintf("svc%d", i), "--no-discover", "--no-rename"}
	if s.verbose {
		args = append(args, "--verbose")
	}
	return args
}

func (s *sdjoinSys) connect(i int) error {
	return sdjoinbench.WaitUntil(10*time.Second, 10*time.Millisecond, "sdjoin agent answering", func() bool {
		_, err := s.services(i)
		return err == nil
	})
}

func (s *sdjoinSys) services(i int) (map[string]bool, error) {
	var r struct {
		Error   string `json:"error"`
		Entries []struct {
			Service string `json:"service"`
		} `json:"entries"`
	}
	if err := sdjoinbench.Call(s.sock(i), `{"op":"list"}`, &r); err != nil {
		return nil, err
	}
	if r.Error != "" {
		return nil, errors.New(r.Error)
	}
	out := make(map[string]bool, len(r.Entries))
	for _, e := range r.Entries {
		out[e.Service] = true
	}
	return out, nil
}

func (s *sdjoinSys) add(i int, service string) error {
	var r struct {
		Error string `json:"error"`
	}
	if err := sdjoinbench.Call(s.sock(i), fmt.Sprintf(`{"op":"track","service":%q}`, service), &r); err != nil {
		return err
	}
	if r.Error != "" {
		return errors.New(r.Error)
	}
	return nil
}

func (s *sdjoinSys) stopSignal() syscall.Signal { return syscall.SIGINT }
func (s *sdjoinSys) closeAPI()                  {}

// serfSys runs `serf agent` with its defaults (the LAN profile unless
// profile says otherwise); agent i>0 joins agent 0.
type serfSys struct {
	bin, profile string
	h            *lab.Host
	rpcs         map[int]*serfRPC
}

func (s *serfSys) name() string { return "serf" }

func (s *serfSys) command(i, n int) []string {
	args := []string{s.bin, "agent", "-node", fmt.Sprintf("a%d", i), "-bind", fmt.Sprintf("127.0.0.1:%d", gossipBase+i),
		"-rpc-addr", fmt.Sprintf("127.0.0.1:%d", rpcBase+i), "-tag", fmt.Sprintf("svc=svc%d", i)}
	if s.profile != "" {
		args = append(args, "-profile", s.profile)
	}
	if i > 0 {
		args = append(args, "-join", fmt.Sprintf("127.0.0.1:%d", gossipBase))
	}
	return args
}

// connect dials agent i's RPC port inside the namespace (the socket stays
// there after Do returns) and keeps the connection.
func (s *serfSys) connect(i int) error {
	if s.rpcs == nil {
		s.rpcs = map[int]*serfRPC{}
	}
	return sdjoinbench.WaitUntil(10*time.Second, 10*time.Millisecond, "serf agent answering", func() bool {
		var c net.Conn
		err := s.h.Do(func() (err error) {
			c, err = net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", rpcBase+i), time.Second)
			return err
		})
		if err != nil {
			return false
		}
		r, err := newSerfRPC(c)
		if err != nil {
			return false
		}
		s.rpcs[i] = r
		return true
	})
}

func (s *serfSys) services(i int) (map[string]bool, error) {
	r := s.rpcs[i]
	if r == nil {
		return nil, errors.New("not connected")
	}
	r.c.SetDeadline(time.Now().Add(2 * time.Second))
	ms, err := r.members()
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool)
	for _, m := range ms {
		if m.Status != "alive" {
			continue
		}
		for _, v := range m.Tags {
			out[v] = true
		}
	}
	return out, nil
}

func (s *serfSys) add(i int, service string) error {
	r := s.rpcs[i]
	r.c.SetDeadline(time.Now().Add(2 * time.Second))
	return r.setTag("new", service)
}

func (s *serfSys) stopSignal() syscall.Signal { return syscall.SIGINT }

func (s *serfSys) closeAPI() {
	for _, r := range s.rpcs {
		r.close()
	}
	s.rpcs = nil
}
