// Command tracker benchmarks package tracker on loopback, side by side
// with memberlist's DefaultLANConfig, and prints a table of metric, ours,
// DefaultLANConfig and target. Run it by hand:
//
//	go run ./bench/tracker                  # all measurements, ~3-4 minutes
//	go run ./bench/tracker -soak 10m        # plus a 10-minute lossy soak
//	go run ./bench/tracker -only soak -soak 3m
//
// Every node binds 127.0.0.1 on a free port; nothing leaves the machine.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/ipfinder-go/ipfinder/tracker"
)

// profile is a memberlist configuration under test.
type profile struct {
	name string
	base func() *memberlist.Config
}

var profiles = []profile{
	{"ours", tracker.LANMemberlistConfig},
	{"DefaultLANConfig", memberlist.DefaultLANConfig},
}

type row struct {
	metric string
	vals   map[string]string
	target string
}

func main() {
	nodes := flag.Int("nodes", 50, "cluster size for propagation, crash, leave and idle measurements")
	bulkNodes := flag.Int("bulk-nodes", 100, "nodes in the bulk measurement")
	bulkEntries := flag.Int("bulk-entries", 100, "entries per node in the bulk measurement")
	soak := flag.Duration("soak", 0, "length of the lossy soak (0 skips it)")
	soakNodes := flag.Int("soak-nodes", 20, "nodes in the soak")
	loss := flag.Float64("loss", 0.05, "share of UDP packets dropped in the soak")
	only := flag.String("only", "", "run only: main, bulk or soak")
	profile := flag.String("profile", "", "run only this profile: ours or DefaultLANConfig")
	logWarn := flag.Bool("log", false, "print the nodes' warnings on stderr")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "tracker bench: %v\n", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(os.Stderr, "tracker bench: %v\n", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	exit := func(code int) {
		pprof.StopCPUProfile()
		os.Exit(code)
	}
	if *logWarn {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}

	var rows []*row
	get := func(metric, target string) *row {
		for _, r := range rows {
			if r.metric == metric {
				return r
			}
		}
		r := &row{metric: metric, vals: map[string]string{}, target: target}
		rows = append(rows, r)
		return r
	}
	for _, p := range profiles {
		if *profile != "" && p.name != *profile {
			continue
		}
		if *only == "" || *only == "main" {
			if err := runMain(p, *nodes, get); err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", p.name, err)
				exit(1)
			}
		}
		if *only == "" || *only == "bulk" {
			if err := runBulk(p, *bulkNodes, *bulkEntries, get); err != nil {
				fmt.Fprintf(os.Stderr, "%s bulk: %v\n", p.name, err)
				exit(1)
			}
		}
		if *soak > 0 && (*only == "" || *only == "soak") {
			if err := runSoak(p, *soakNodes, *loss, *soak, get); err != nil {
				fmt.Fprintf(os.Stderr, "%s soak: %v\n", p.name, err)
				exit(1)
			}
		}
	}
	printTable(rows)
}

func printTable(rows []*row) {
	w := []int{len("metric"), len("ours"), len("DefaultLANConfig"), len("target")}
	for _, r := range rows {
		w[0] = max(w[0], len(r.metric))
		w[1] = max(w[1], len(r.vals["ours"]))
		w[2] = max(w[2], len(r.vals["DefaultLANConfig"]))
		w[3] = max(w[3], len(r.target))
	}
	line := func(a, b, c, d string) {
		fmt.Printf("| %-*s | %-*s | %-*s | %-*s |\n", w[0], a, w[1], b, w[2], c, w[3], d)
	}
	line("metric", "ours", "DefaultLANConfig", "target")
	fmt.Printf("|%s|%s|%s|%s|\n", strings.Repeat("-", w[0]+2), strings.Repeat("-", w[1]+2), strings.Repeat("-", w[2]+2), strings.Repeat("-", w[3]+2))
	for _, r := range rows {
		line(r.metric, r.vals["ours"], r.vals["DefaultLANConfig"], r.target)
	}
}

func dur(d time.Duration) string {
	if d < 0 {
		return "timeout"
	}
	return d.Round(time.Millisecond).String()
}
