//go:build linux

// Command session measures how fast an sdjoin cluster forgets a service
// whose process died or whose health check fails, and what health checks
// cost the agent. Every scenario runs in a lab of network namespaces
// (internal/lab) with the real sdjoin binary: three agents, one per host;
// on the first, `sdjoin run --track web -- busybox httpd ...`. It prints
// the time from the event to every other node having seen the entry
// leave (a watch on each), median and max over several runs:
//
//   - kill -9 of the command under sdjoin run;
//   - kill -9 of sdjoin run itself;
//   - an HTTP check at a 1 s interval starting to fail (the health file
//     removed, so busybox httpd answers 404).
//
// Then the CPU the agent uses for 100 entries with 1 s checks (TCP, then
// HTTP, against a Go server), beside the same agent with 100 entries and
// no checks, from /proc/PID/stat over a window. Run it by hand, as root:
//
//	go run ./bench/session                 # 7 runs each, 20 s CPU windows (~2 minutes)
//	go run ./bench/session -runs 15 -cpu-window 1m
//
// Nothing is sent on this machine's own interfaces.
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/ipfinder-go/ipfinder/bench/internal/sdjoinbench"
	"github.com/ipfinder-go/ipfinder/bench/internal/stats"
)

func main() {
	runs := flag.Int("runs", 7, "runs of each removal scenario")
	window := flag.Duration("cpu-window", 20*time.Second, "CPU measurement window (0: skip)")
	bin := flag.String("sdjoin", "", "sdjoin binary (default: go build ./cmd/sdjoin)")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "session bench: needs root to build network namespaces")
		os.Exit(2)
	}
	dir, sdjoin, err := sdjoinbench.Prepare("bench-session-", *bin)
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	if err := run(sdjoin, dir, *runs, *window); err != nil {
		fail(err)
	}
}

func run(bin, dir string, runs int, window time.Duration) error {
	c, err := startCluster(bin, dir)
	if err != nil {
		return err
	}
	defer c.close()
	fmt.Printf("| event (3 nodes, lab LAN) | runs | median | max |\n| --- | --- | --- | --- |\n")
	for _, sc := range scenarios {
		var took []time.Duration
		for i := range runs {
			d, err := c.measure(sc)
			if err != nil {
				return fmt.Errorf("%s, run %d: %w", sc.name, i+1, err)
			}
			fmt.Fprintf(os.Stderr, "%s run %d: every peer saw the leave after %v\n", sc.name, i+1, d.Round(time.Millisecond))
			took = append(took, d)
		}
		slices.Sort(took)
		fmt.Printf("| %s | %d | %v | %v |\n", sc.name, len(took), ms(stats.Median(took)), ms(took[len(took)-1]))
	}
	if window <= 0 {
		return nil
	}
	fmt.Printf("\n| agent with 100 entries | checks at 1 s | CPU (%% of one core, %v) |\n| --- | --- | --- |\n", window)
	for _, k := range []string{"none", "tcp", "http"} {
		pct, err := c.agentCPU(k, window)
		if err != nil {
			return fmt.Errorf("CPU with %s checks: %w", k, err)
		}
		fmt.Printf("| 100 entries | %s | %.2f%% |\n", k, pct)
	}
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }

func fail(err error) {
	fmt.Fprintln(os.Stderr, "session bench:", err)
	os.Exit(1)
}
