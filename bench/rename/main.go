// Command rename measures how fast an sdjoin cluster follows a node to a
// new address: the time from the new address appearing on the node to
// every other node listing it as NAME@NEWIP and no longer as NAME@OLDIP.
// It prints the median of several runs for two scenarios: the address
// replaced with `ip addr`, and moved by a real DHCP server (dnsmasq) and
// client (busybox udhcpc). Run it by hand, as root:
//
//	go run ./bench/rename            # 5 runs of each scenario, ~1.5 minutes
//	go run ./bench/rename -runs 9 -only ipaddr
//
// Every run builds its own lab of network namespaces (internal/lab), runs
// the real sdjoin binary inside it and tears it down: nothing is sent on
// this machine's own interfaces. The agents run with their defaults (2 s
// rename debounce), except shorter hostfile and member polls.
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

// scenario moves the first agent of a fresh cluster and returns the
// measurement.
type scenario struct {
	name string
	run  func(bin string) (result, error)
}

// result is one run: when the new address appeared, and on each observer
// when it listed the new name with the old one gone.
type result struct {
	renamed time.Duration // slowest observer
	oldGone time.Duration // slowest observer's last sighting of the old name, from the new address
}

func main() {
	runs := flag.Int("runs", 5, "runs of each scenario")
	only := flag.String("only", "", "run only this scenario: ipaddr or dhcp")
	bin := flag.String("sdjoin", "", "sdjoin binary (default: go build ./cmd/sdjoin)")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "rename bench: needs root to build network namespaces")
		os.Exit(2)
	}
	dir, sdjoin, err := sdjoinbench.Prepare("bench-rename-", *bin)
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	scenarios := []scenario{
		{"ip addr add NEW; ip addr del OLD", runIPAddr},
		{"DHCP: new reservation, NAK, new lease", runDHCP},
	}
	names := map[string]int{"ipaddr": 0, "dhcp": 1}
	if *only != "" {
		i, ok := names[*only]
		if !ok {
			fail(fmt.Errorf("-only %q: want ipaddr or dhcp", *only))
		}
		scenarios = scenarios[i : i+1]
	}
	fmt.Printf("| scenario | runs | renamed: min | median | max | old name gone (median, from new address) |\n")
	fmt.Printf("| --- | --- | --- | --- | --- | --- |\n")
	for _, sc := range scenarios {
		var renamed, gone []time.Duration
		for i := range *runs {
			r, err := sc.run(sdjoin)
			if err != nil {
				fail(fmt.Errorf("%s, run %d: %w", sc.name, i+1, err))
			}
			fmt.Fprintf(os.Stderr, "%s run %d: renamed after %v, old name gone after %v\n",
				sc.name, i+1, r.renamed.Round(time.Millisecond), r.oldGone.Round(time.Millisecond))
			renamed = append(renamed, r.renamed)
			gone = append(gone, r.oldGone)
		}
		slices.Sort(renamed)
		fmt.Printf("| %s | %d | %v | %v | %v | %v |\n", sc.name, len(renamed),
			ms(renamed[0]), ms(stats.Median(renamed)), ms(renamed[len(renamed)-1]), ms(stats.Median(gone)))
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func fail(err error) {
	fmt.Fprintln(os.Stderr, "rename bench:", err)
	os.Exit(1)
}
