//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ipfinder-go/ipfinder/bench/internal/sdjoinbench"
	"github.com/ipfinder-go/ipfinder/bench/internal/stats"
	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// eventWithin bounds every wait for a row's event.
const eventWithin = 60 * time.Second

// result is one run's figures, by row label: seconds, MiB, % or counts.
type result map[string]float64

// opts are the bench's knobs.
type opts struct {
	rows     map[string]bool
	settle   time.Duration
	idle     time.Duration
	lossFor  time.Duration
	lossPcts []int
	systems  map[string]bool
	verbose  bool
}

// runCluster starts n agents of sys and measures the rows that need a
// healthy cluster: startup, rss, idle, new, crash, leave (in that order).
func runCluster(sys system, h *lab.Host, dir string, n int, o opts) (result, error) {
	res := result{}
	c, started, err := startCluster(sys, h, dir, n)
	defer c.close()
	if err != nil {
		return nil, err
	}
	first, last, err := c.until(started, eventWithin, -1, hasAll(n))
	if err != nil {
		return nil, fmt.Errorf("startup: %w", err)
	}
	res["startup: first agent lists all (s)"] = first.Seconds()
	res["startup: every agent lists all (s)"] = last.Seconds()
	res["startup: CPU of all agents until then (s)"] = totalCPU(c).Seconds()
	if o.rows["rss"] {
		res["RSS median (MiB)"] = medianMemory(c, "VmRSS")
		res["private (anonymous) memory median (MiB)"] = medianMemory(c, "RssAnon")
	}
	if o.rows["idle"] {
		time.Sleep(o.settle) // let the joins' after-effects end
		pct, err := idleCPU(c, o.idle)
		if err != nil {
			return nil, err
		}
		res["idle CPU per agent (% of a core)"] = pct
		if o.rows["rss"] {
			res["RSS median after the idle window (MiB)"] = medianMemory(c, "VmRSS")
			res["private memory median after the idle window (MiB)"] = medianMemory(c, "RssAnon")
		}
	}
	if o.rows["new"] {
		start := time.Now()
		if err := sys.add(0, "svcnew"); err != nil {
			return nil, fmt.Errorf("new service: %w", err)
		}
		_, last, err := c.until(start, eventWithin, -1, func(s map[string]bool) bool { return s["svcnew"] })
		if err != nil {
			return nil, fmt.Errorf("new service: %w", err)
		}
		res["new service seen by all (s)"] = last.Seconds()
	}
	if o.rows["crash"] {
		d, err := gone(c, n-1, syscall.SIGKILL)
		if err != nil {
			return nil, fmt.Errorf("crash: %w", err)
		}
		res["crash (SIGKILL) hidden on all (s)"] = d.Seconds()
	}
	if o.rows["leave"] {
		d, err := gone(c, n-2, sys.stopSignal())
		if err != nil {
			return nil, fmt.Errorf("leave: %w", err)
		}
		res["graceful leave seen by all (s)"] = d.Seconds()
	}
	return res, nil
}

// hasAll reports whether a list holds svc0 to svcN-1.
func hasAll(n int) func(map[string]bool) bool {
	return func(s map[string]bool) bool {
		for i := range n {
			if !s[fmt.Sprintf("svc%d", i)] {
				return false
			}
		}
		return true
	}
}

// gone stops agent i with sig and returns when no other agent lists its
// service any more.
func gone(c *cluster, i int, sig syscall.Signal) (time.Duration, error) {
	svc := fmt.Sprintf("svc%d", i)
	start := time.Now()
	if err := c.kill(i, sig); err != nil {
		return 0, err
	}
	_, last, err := c.until(start, eventWithin, i, func(s map[string]bool) bool { return !s[svc] })
	return last, err
}

// idleCPU returns the CPU the live agents used over window, per agent, as
// a percentage of one core.
func idleCPU(c *cluster, window time.Duration) (float64, error) {
	var before, after time.Duration
	var pids []int
	for i, p := range c.procs {
		if c.alive[i] {
			pids = append(pids, p.Process.Pid)
		}
	}
	for _, pid := range pids {
		t, err := sdjoinbench.RunTime(pid)
		if err != nil {
			return 0, err
		}
		before += t
	}
	start := time.Now()
	time.Sleep(window) // the measurement window
	for _, pid := range pids {
		t, err := sdjoinbench.RunTime(pid)
		if err != nil {
			return 0, err
		}
		after += t
	}
	return 100 * (after - before).Seconds() / time.Since(start).Seconds() / float64(len(pids)), nil
}

// totalCPU returns the CPU time the live agents used since they started,
// from their threads' run times in nanoseconds (see idleCPU): /proc/PID/stat
// counts whole 10 ms ticks, and an agent that had run 12 to 19 ms showed
// 0 or 10 ms there.
func totalCPU(c *cluster) time.Duration {
	var sum time.Duration
	for i, p := range c.procs {
		if t, err := sdjoinbench.RunTime(p.Process.Pid); err == nil && c.alive[i] {
			sum += t
		}
	}
	return sum
}

// medianMemory returns the median of a /proc/PID/status field (VmRSS:
// resident set; RssAnon: its private, anonymous part, without the
// binary's file-backed pages) over the agents, in MiB.
func medianMemory(c *cluster, field string) float64 {
	var rs []float64
	for _, p := range c.procs {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Process.Pid))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == field+":" {
				kb, _ := strconv.ParseFloat(f[1], 64)
				rs = append(rs, kb/1024)
			}
		}
	}
	return stats.Median(rs)
}

// runLoss starts n agents of sys, waits until they converged, drops pct
// percent of the UDP packets sent in the namespace for d and returns the
// failures the agents declared meanwhile (all nodes stay alive) and the
// suspicions (memberlist's "no acks received").
func runLoss(sys system, h *lab.Host, dir string, n, pct int, d time.Duration) (failed, suspect int, err error) {
	c, started, err := startCluster(sys, h, dir, n)
	defer c.close()
	if err != nil {
		return 0, 0, err
	}
	if _, _, err := c.until(started, eventWithin, -1, hasAll(n)); err != nil {
		return 0, 0, fmt.Errorf("startup: %w", err)
	}
	f0, s0 := countFailures(c)
	if err := setLoss(h, pct); err != nil {
		return 0, 0, err
	}
	time.Sleep(d) // the lossy period
	f1, s1 := countFailures(c)
	if err := setLoss(h, 0); err != nil {
		return 0, 0, err
	}
	return f1 - f0, s1 - s0, nil
}

// countFailures counts, over every agent's output, the nodes declared
// failed (sdjoin: member-leave; serf: EventMemberFailed) and suspected.
func countFailures(c *cluster) (failed, suspect int) {
	for i := range c.procs {
		for _, l := range strings.Split(c.logs(i), "\n") {
			switch {
			case strings.HasPrefix(l, "member-leave "), strings.Contains(l, "EventMemberFailed"):
				failed++
			case strings.Contains(l, "no acks received"):
				suspect++
			}
		}
	}
	return failed, suspect
}

// setLoss drops pct percent of the UDP packets sent in h's namespace
// (loopback included), or none for 0, with an nftables output rule.
func setLoss(h *lab.Host, pct int) error {
	script := "table inet i15loss\ndelete table inet i15loss\n"
	if pct > 0 {
		script += fmt.Sprintf("table inet i15loss {\n\tchain out {\n\t\ttype filter hook output priority 0;\n\t\tmeta l4proto udp numgen random mod 100 < %d drop\n\t}\n}\n", pct)
	}
	cmd := exec.Command("ip", "netns", "exec", h.Name, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft: %v: %s", err, out)
	}
	return nil
}
