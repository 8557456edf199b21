//go:build linux

// Command serf runs sdjoin and HashiCorp Serf side by side, as real
// processes, and prints a table of medians and the ratio sdjoin/serf.
// Every agent binds its own port on 127.0.0.1 inside one network
// namespace the bench creates (internal/lab); agent 0 starts first, then
// the others at once: sdjoin agents read a hostfile listing every agent,
// serf agents (`serf agent` with its defaults, the LAN profile) join
// agent 0; each agent provides one service (serf: a tag svc=svcI). The
// systems alternate run by run. Rows:
//
//   - startup: from the moment every process is started until the first,
//     and every, agent lists all N services, and the CPU time all agents
//     used from their start until then (summed over their threads, from
//     /proc/PID/task/*/schedstat in nanoseconds, as the idle row);
//   - RSS: the median agent's resident memory just after startup, and
//     its private part (RssAnon: heap, stacks; without the binary's
//     pages, which are shared and can be dropped under memory pressure);
//     both again after the idle window (with -rows idle): the steady
//     state, once the heap has grown to its GC goal;
//   - idle: CPU per agent over -idle-window, after -settle, from the
//     run time of its threads (/proc/PID/task/*/schedstat, nanoseconds;
//     /proc/PID/stat counts 10 ms ticks), as a percentage of one core;
//   - new: agent 0 adds a service (sdjoin track / serf tags); until every
//     agent lists it;
//   - crash: the last agent gets SIGKILL; until no agent lists its service;
//   - leave: the one before gets SIGINT (both leave gracefully on it);
//   - loss: a fresh cluster, converged, then -loss percent of every UDP
//     packet sent in the namespace dropped (nftables) for -loss-for;
//     the failures declared meanwhile (sdjoin member-leave, serf
//     EventMemberFailed; every node stays alive) and memberlist's
//     suspicions ("no acks received"; sdjoin runs with --verbose here).
//
// Serf is built from the module proxy into a temporary GOBIN (go install
// github.com/hashicorp/serf/cmd/serf@-serf-version). Run it by hand, as
// root; figures are noisy on a loaded machine, so compare ratios:
//
//	go run ./bench/serf                                  # everything, ~40 minutes
//	go run ./bench/serf -agents 10 -runs 3 -rows startup,new
//	go run ./bench/serf -rows idle -idle-window 60s -runs 3
//	go run ./bench/serf -rows loss -agents 10 -loss 5,10 -loss-for 2m
//
// -systems sdjoin (or serf) runs one system only; -verbose runs sdjoin
// with --verbose and keeps the agents' logs (of the last run) in the
// directory it prints.
//
// An sdjoin agent built with -tags sdjoin_pprof serves net/http/pprof on
// ADDR (inside its namespace) when started with SDJOIN_PPROF=ADDR in its
// environment; it is how the profiles behind issue 15 were taken.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ipfinder-go/ipfinder/bench/internal/sdjoinbench"
	"github.com/ipfinder-go/ipfinder/bench/internal/stats"
	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// rowOrder is the table's order of rows.
var rowOrder = []string{
	"startup: first agent lists all (s)",
	"startup: every agent lists all (s)",
	"startup: CPU of all agents until then (s)",
	"new service seen by all (s)",
	"crash (SIGKILL) hidden on all (s)",
	"graceful leave seen by all (s)",
	"RSS median (MiB)",
	"private (anonymous) memory median (MiB)",
	"idle CPU per agent (% of a core)",
	"RSS median after the idle window (MiB)",
	"private memory median after the idle window (MiB)",
}

func main() {
	agents := flag.String("agents", "10,30", "cluster sizes, comma-separated")
	runs := flag.Int("runs", 5, "runs of each system at each size")
	rows := flag.String("rows", "startup,new,crash,leave,rss,idle,loss", "rows to measure (startup always is)")
	window := flag.Duration("idle-window", time.Minute, "idle CPU window")
	settle := flag.Duration("settle", 15*time.Second, "wait after startup before the idle window")
	lossPcts := flag.String("loss", "5,10", "UDP loss percentages for the loss rows")
	lossFor := flag.Duration("loss-for", 2*time.Minute, "length of each lossy period")
	sdBin := flag.String("sdjoin", "", "sdjoin binary (default: go build ./cmd/sdjoin)")
	serfBin := flag.String("serf", "", "serf binary (default: go install from the module proxy)")
	serfVersion := flag.String("serf-version", "v0.10", "serf module version to install")
	profile := flag.String("serf-profile", "", "serf -profile (lan, wan or local; default: serf's, lan)")
	only := flag.String("systems", "sdjoin,serf", "systems to run: sdjoin, serf or both")
	verbose := flag.Bool("verbose", false, "run sdjoin with --verbose and keep every agent's log (the directory is printed)")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "serf bench: needs root to build a network namespace")
		os.Exit(2)
	}
	o := opts{rows: map[string]bool{}, systems: map[string]bool{}, settle: *settle, idle: *window, lossFor: *lossFor, verbose: *verbose}
	for _, s := range strings.Split(*only, ",") {
		o.systems[strings.TrimSpace(s)] = true
	}
	for _, r := range strings.Split(*rows, ",") {
		o.rows[strings.TrimSpace(r)] = true
	}
	sizes, err := ints(*agents)
	if err == nil {
		o.lossPcts, err = ints(*lossPcts)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "serf bench:", err)
		os.Exit(2)
	}
	dir, sdjoin, err := sdjoinbench.Prepare("bench-serf-", *sdBin)
	if err != nil {
		fail(err)
	}
	if *verbose {
		fmt.Printf("logs: %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	serf := *serfBin
	if serf == "" && o.systems["serf"] {
		if serf, err = installSerf(dir, *serfVersion); err != nil {
			fail(err)
		}
	}
	if o.systems["serf"] {
		fmt.Printf("serf: %s\n", serfModule(serf))
	}
	if err := run(sdjoin, serf, *profile, dir, sizes, *runs, o); err != nil {
		fail(err)
	}
}

func run(sdjoin, serf, profile, dir string, sizes []int, runs int, o opts) error {
	l, err := lab.Start(lab.Config{Hosts: 1})
	if err != nil {
		return err
	}
	defer l.Close()
	h := l.Hosts[0]
	systems := func(verbose bool) []system {
		var ss []system
		for _, s := range []system{&sdjoinSys{bin: sdjoin, dir: dir, verbose: verbose || o.verbose}, &serfSys{bin: serf, profile: profile, h: h}} {
			if o.systems[s.name()] {
				ss = append(ss, s)
			}
		}
		return ss
	}
	for _, n := range sizes {
		got := map[string]map[string][]float64{} // system -> row -> values
		for r := range runs {
			ss := systems(false)
			if r%2 == 1 && len(ss) == 2 {
				ss[0], ss[1] = ss[1], ss[0]
			}
			for _, s := range ss {
				res, err := runCluster(s, h, dir, n, o)
				if err != nil {
					return fmt.Errorf("%s, %d agents, run %d: %w", s.name(), n, r+1, err)
				}
				fmt.Fprintf(os.Stderr, "%d agents, run %d, %s: %v\n", n, r+1, s.name(), res)
				add(got, s.name(), res)
			}
		}
		if o.rows["loss"] {
			for _, pct := range o.lossPcts {
				for _, s := range systems(true) {
					f, sus, err := runLoss(s, h, dir, n, pct, o.lossFor)
					if err != nil {
						return fmt.Errorf("%s, %d agents, %d%% loss: %w", s.name(), n, pct, err)
					}
					fmt.Fprintf(os.Stderr, "%d agents, %d%% loss, %s: %d failed, %d suspected\n", n, pct, s.name(), f, sus)
					add(got, s.name(), result{
						fmt.Sprintf("false failures, %d%% UDP loss, %v", pct, o.lossFor): float64(f),
						fmt.Sprintf("suspicions, %d%% UDP loss, %v", pct, o.lossFor):     float64(sus),
					})
				}
			}
		}
		printTable(n, runs, got)
	}
	return nil
}

func add(got map[string]map[string][]float64, sys string, res result) {
	if got[sys] == nil {
		got[sys] = map[string][]float64{}
	}
	for k, v := range res {
		got[sys][k] = append(got[sys][k], v)
	}
}

func printTable(n, runs int, got map[string]map[string][]float64) {
	fmt.Printf("\n| %d agents (medians of %d runs) | sdjoin | serf | sdjoin/serf |\n|---|---|---|---|\n", n, runs)
	labels := append([]string(nil), rowOrder...)
	for k := range got["sdjoin"] {
		if strings.Contains(k, "loss") {
			labels = append(labels, k)
		}
	}
	sortLoss(labels[len(rowOrder):])
	for _, k := range labels {
		a, b := got["sdjoin"][k], got["serf"][k]
		if len(a) == 0 || len(b) == 0 {
			continue
		}
		ma, mb := stats.Median(a), stats.Median(b)
		ratio := "-"
		if mb > 0 {
			ratio = fmt.Sprintf("%.2f", ma/mb)
		}
		fmt.Printf("| %s | %.3g | %.3g | %s |\n", k, ma, mb, ratio)
	}
}

func sortLoss(ls []string) {
	for i := range ls {
		for j := i + 1; j < len(ls); j++ {
			if ls[j] < ls[i] {
				ls[i], ls[j] = ls[j], ls[i]
			}
		}
	}
}

// installSerf installs serf at version into dir/gobin and returns it.
func installSerf(dir, version string) (string, error) {
	gobin := filepath.Join(dir, "gobin")
	cmd := exec.Command("go", "install", "github.com/hashicorp/serf/cmd/serf@"+version)
	cmd.Env = append(os.Environ(), "GOBIN="+gobin)
	cmd.Dir = dir // outside this module: go install pkg@version ignores go.mod anyway
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install serf@%s: %v\n%s", version, err, out)
	}
	return filepath.Join(gobin, "serf"), nil
}

// serfModule returns the module line of the serf binary's build info.
func serfModule(bin string) string {
	out, _ := exec.Command("go", "version", "-m", bin).Output()
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) >= 3 && f[0] == "mod" {
			return f[1] + " " + f[2]
		}
	}
	return bin
}

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q: want positive numbers, comma-separated", s)
		}
		out = append(out, n)
	}
	return out, nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "serf bench:", err)
	os.Exit(1)
}
