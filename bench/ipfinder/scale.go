//go:build linux

package main

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"time"

	"github.com/ipfinder-go/ipfinder/bench/internal/stats"
	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// scaleCase is a large subnet with a few live hosts (issue 11).
type scaleCase struct {
	name   string
	prefix netip.Prefix
	runs   int
	loss   int // percent of replies every live host loses
}

// scaleCases are the /22 and /16 sweeps: clean, and the /22 behind 10%
// reply loss.
func scaleCases(runs, bigRuns int, big bool) []scaleCase {
	cs := []scaleCase{
		{name: "/22", prefix: netip.MustParsePrefix("10.252.0.0/22"), runs: runs},
		{name: "/22 loss10", prefix: netip.MustParsePrefix("10.252.0.0/22"), runs: runs, loss: 10},
	}
	if big {
		cs = append(cs, scaleCase{name: "/16", prefix: netip.MustParsePrefix("10.251.0.0/16"), runs: bigRuns})
	}
	return cs
}

// scaleTools are the tools of the scale comparison, in table order.
var scaleTools = []string{"ipfinder", "arp-scan", "nmap"}

// runScale sweeps each case's subnet, holding hosts live hosts besides the
// scanner, with the tools named in tools (of scaleTools) in turn, and
// prints median times, recall over all runs, ratios to arp-scan and peak
// RSS.
func runScale(cases []scaleCase, hosts int, ours string, tools []string) error {
	fmt.Printf("\n%-11s %-9s %5s %10s %14s %7s %9s\n", "subnet", "tool", "runs", "median", "recall", "ratio", "peak RSS")
	for _, c := range cases {
		res, err := scaleRuns(c, hosts, ours, tools)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		base := float64(stats.Median(res[1].times))
		for i, tool := range scaleTools {
			r := res[i]
			if len(r.times) == 0 {
				continue
			}
			fmt.Printf("%-11s %-9s %5d %10s %7d/%-6d %6.2fx %7.1f MiB\n", c.name, tool, len(r.times),
				stats.Median(r.times).Round(time.Millisecond), r.found, r.want,
				float64(stats.Median(r.times))/base, float64(slices.Max(r.rss))/1024)
		}
	}
	return nil
}

// scaleRuns builds c's lab and runs the tools c.runs times each, rotating
// their order.
func scaleRuns(c scaleCase, hosts int, ours string, tools []string) ([3]result, error) {
	var res [3]result
	l, err := lab.Start(lab.Config{Hosts: hosts + 1, Prefix: c.prefix})
	if err != nil {
		return res, err
	}
	defer l.Close()
	for _, h := range l.Hosts[1:] {
		if c.loss > 0 {
			if err := h.SetLoss(c.loss); err != nil {
				return res, err
			}
		}
	}
	scanner := l.Hosts[0]
	cmds := [3][]string{
		expand(ours, scanner.Addr),
		{"arp-scan", "-I", scanner.Iface, "--localnet"},
		{"nmap", "-sn", "-n", c.prefix.String()},
	}
	for i := range c.runs {
		for k := range 3 {
			tool := (i + k) % 3
			if !slices.Contains(tools, scaleTools[tool]) {
				continue
			}
			if _, err := measure(scanner, cmds[tool], l.Hosts[1:], &res[tool]); err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

// nmapReport is nmap's line for a host that is up, unnamed with -n.
var nmapReport = regexp.MustCompile(`(?m)^Nmap scan report for (\d+\.\d+\.\d+\.\d+)$`)
