package main

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ipfinder-go/ipfinder/bench/internal/sdjoinbench"
	"github.com/ipfinder-go/ipfinder/tracker"
)

// agent is the sdjoin agent under test, on loopback, with its DNS
// interface and (when the binary has it) its HTTP API.
type agent struct {
	cmd    *exec.Cmd
	sock   string
	gossip netip.AddrPort
	dns    netip.AddrPort
	http   netip.AddrPort // invalid: no --http
	peers  []*tracker.Tracker
}

// startAgent runs bin on loopback ports and waits for its control
// socket. withHTTP adds --http.
func startAgent(bin, dir string, withHTTP bool) (*agent, error) {
	a := &agent{sock: filepath.Join(dir, "bench.sock")}
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	lo := netip.MustParseAddr("127.0.0.1")
	a.gossip, a.dns = netip.AddrPortFrom(lo, ports[0]), netip.AddrPortFrom(lo, ports[1])
	hosts := filepath.Join(dir, "hosts")
	if err := os.WriteFile(hosts, nil, 0o600); err != nil {
		return nil, err
	}
	args := []string{"--name", "bench", "--bind", a.gossip.String(), "--hostfile", hosts,
		"--socket", a.sock, "--no-discover", "--dns", a.dns.String()}
	if withHTTP {
		a.http = netip.AddrPortFrom(lo, ports[2])
		args = append(args, "--http", a.http.String())
	}
	a.cmd = exec.Command(bin, args...)
	a.cmd.Stderr = os.Stderr
	if err := a.cmd.Start(); err != nil {
		return nil, err
	}
	if err := sdjoinbench.WaitUntil(10*time.Second, 50*time.Millisecond, "control socket", func() bool {
		c, err := net.Dial("unix", a.sock)
		if err == nil {
			c.Close()
		}
		return err == nil
	}); err != nil {
		a.close()
		return nil, err
	}
	return a, nil
}

// addEntries joins nPeers trackers to the agent, tracking entries
// entries between them: services services, each with a port per entry.
func (a *agent) addEntries(nPeers, services, entries int) error {
	per := entries / nPeers
	for p := range nPeers {
		t, err := tracker.New(&tracker.Config{Name: fmt.Sprintf("peer%d@127.0.0.1", p), BindAddr: netip.MustParseAddrPort("127.0.0.1:0")})
		if err != nil {
			return err
		}
		a.peers = append(a.peers, t)
		for i := range per {
			meta := map[string]string{"port": strconv.Itoa(20000 + p*per + i)}
			if _, err := t.Track(serviceName(i%services), "k"+strconv.Itoa(i), meta); err != nil {
				return err
			}
		}
		if _, err := t.Join([]string{a.gossip.String()}); err != nil {
			return err
		}
	}
	return sdjoinbench.WaitUntil(30*time.Second, 50*time.Millisecond, fmt.Sprintf("%d entries", entries), func() bool {
		ns, err := sdjoinbench.List(a.sock, "")
		return err == nil && len(ns) == entries
	})
}

func serviceName(i int) string { return fmt.Sprintf("svc%d", i) }

// rss returns the agent's resident set size in bytes.
func (a *agent) rss() (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", a.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", a.cmd.Process.Pid)
}

// cpu returns the agent's CPU time so far, user and system (clock ticks
// of 10 ms).
func (a *agent) cpu() (time.Duration, error) {
	ticks, err := sdjoinbench.CPUTicks(a.cmd.Process.Pid)
	return time.Duration(ticks) * 10 * time.Millisecond, err
}

func (a *agent) close() {
	for _, t := range a.peers {
		t.Close()
	}
	a.cmd.Process.Kill()
	a.cmd.Wait()
}

// freePorts returns n loopback ports free for TCP and UDP at the time.
func freePorts(n int) ([]uint16, error) {
	var out []uint16
	for len(out) < n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		ln.Close()
		if err != nil || slices.Contains(out, uint16(port)) {
			continue
		}
		pc.Close()
		out = append(out, uint16(port))
	}
	return out, nil
}
