// Command discover measures how fast sdjoin agents with no hostfile find
// each other over mDNS: the time from the last agent's start to every
// agent listing every agent's service. It prints the median of several
// runs for 3 and 10 agents (the goal: under 3 s). Run it by hand, as
// root:
//
//	go run ./bench/discover            # 5 runs of each size
//	go run ./bench/discover -runs 9 -sizes 3,10,20
//
// Every run builds its own lab of network namespaces (internal/lab), one
// agent per host, and tears it down: nothing is sent on this machine's
// own interfaces. The agents run with their defaults.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ipfinder-go/ipfinder/bench/internal/sdjoinbench"
	"github.com/ipfinder-go/ipfinder/bench/internal/stats"
	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// pollInterval is how often each agent's list is read.
const pollInterval = 20 * time.Millisecond

func main() {
	runs := flag.Int("runs", 5, "runs of each size")
	sizes := flag.String("sizes", "3,10", "comma-separated numbers of agents")
	bin := flag.String("sdjoin", "", "sdjoin binary (default: go build ./cmd/sdjoin)")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "discover bench: needs root to build network namespaces")
		os.Exit(2)
	}
	dir, sdjoin, err := sdjoinbench.Prepare("bench-discover-", *bin)
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	fmt.Printf("| agents | runs | all listed all, from the last start: min | median | max |\n")
	fmt.Printf("| --- | --- | --- | --- | --- |\n")
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 2 {
			fail(fmt.Errorf("-sizes: bad size %q: want numbers of at least 2", s))
		}
		var took []time.Duration
		for i := range *runs {
			d, err := runOnce(sdjoin, dir, n)
			if err != nil {
				fail(fmt.Errorf("%d agents, run %d: %w", n, i+1, err))
			}
			fmt.Fprintf(os.Stderr, "%d agents run %d: %v\n", n, i+1, d.Round(time.Millisecond))
			took = append(took, d)
		}
		slices.Sort(took)
		fmt.Printf("| %d | %d | %s | %s | %s |\n", n, len(took), sec(took[0]), sec(stats.Median(took)), sec(took[len(took)-1]))
	}
}

// runOnce starts n agents with no hostfile in a fresh lab and returns
// the time from the last start to every agent listing all n.
func runOnce(bin, dir string, n int) (time.Duration, error) {
	l, err := lab.Start(lab.Config{Hosts: n})
	if err != nil {
		return 0, err
	}
	defer l.Close()
	var socks, want []string
	var last time.Time
	for i, h := range l.Hosts {
		name := fmt.Sprintf("n%d", i+1)
		sock := filepath.Join(dir, fmt.Sprintf("%s-%d.sock", name, time.Now().UnixNano()))
		cmd := h.Command(context.Background(), bin, "--name", name, "--socket", sock,
			"--hostfile", filepath.Join(dir, "none"), "--track", "svc")
		if err := h.Start(cmd); err != nil {
			return 0, err
		}
		last = time.Now()
		socks = append(socks, sock)
		want = append(want, name+"@"+h.Addr.String())
	}
	slices.Sort(want)
	deadline := last.Add(30 * time.Second)
	for _, sock := range socks {
		for {
			if ns, err := sdjoinbench.List(sock, "svc"); err == nil && slices.Equal(ns, want) {
				break
			}
			if time.Now().After(deadline) {
				return 0, fmt.Errorf("timed out: %s does not list all %d agents", filepath.Base(sock), n)
			}
			time.Sleep(pollInterval)
		}
	}
	return time.Since(last), nil
}

func sec(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func fail(err error) {
	fmt.Fprintln(os.Stderr, "discover bench:", err)
	os.Exit(1)
}
