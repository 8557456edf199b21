// Command sweep is the benchmark's stand-in for `ipfinder --no-mdns`: it
// sweeps the subnets of one interface with scan.SweepARP and prints one
// "address MAC" line per host found.
//
// It refuses to run unless the interface holds the address given with
// -expect, so that it only ever runs inside the lab host the benchmark
// created (through `ip netns exec`).
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"

	"github.com/ipfinder-go/ipfinder/scan"
)

func main() {
	iface := flag.String("iface", "eth0", "interface to sweep")
	expect := flag.String("expect", "", "address the interface must hold (the lab host's)")
	timeout := flag.Duration("timeout", 0, "ARPConfig.Timeout (0: default)")
	retries := flag.Int("retries", 0, "ARPConfig.Retries (0: default)")
	rate := flag.Int("rate", 0, "ARPConfig.Rate (0: default)")
	force := flag.Bool("force", false, "allow prefixes larger than /16")
	flag.Parse()
	if err := run(*iface, *expect, &scan.ARPConfig{Timeout: *timeout, Retries: *retries, Rate: *rate}, *force); err != nil {
		fmt.Fprintln(os.Stderr, "sweep:", err)
		os.Exit(1)
	}
}

func run(name, expect string, cfg *scan.ARPConfig, force bool) error {
	want, err := netip.ParseAddr(expect)
	if err != nil {
		return fmt.Errorf("-expect: %w", err)
	}
	ifaces, err := scan.Interfaces()
	if err != nil {
		return err
	}
	ifaces = slices.DeleteFunc(ifaces, func(i scan.Iface) bool { return i.Name != name })
	if len(ifaces) != 1 || !slices.ContainsFunc(ifaces[0].Addrs, func(p netip.Prefix) bool { return p.Addr() == want }) {
		return fmt.Errorf("%s does not hold %v: not in the lab host, refusing to sweep", name, want)
	}
	plans, err := scan.Targets(ifaces, nil, nil, force)
	if err != nil {
		return err
	}
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return err
	}
	for _, p := range plans {
		replies, err := scan.SweepARP(context.Background(), ifi, p.Targets, cfg)
		if err != nil {
			return err
		}
		for _, r := range replies {
			fmt.Printf("%s\t%s\n", r.Addr, r.MAC)
		}
	}
	return nil
}
