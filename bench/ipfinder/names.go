//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ipfinder-go/ipfinder/bench/internal/stats"
	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// homeLAN is issue 11's home LAN: the scanner (host 1), a router (host 2)
// whose DNS (dnsmasq) knows its own and its DHCP clients' names (hosts
// 3-12), two avahi hosts (13, 14), a Samba host answering NetBIOS (15) and
// five hosts nobody names (16-20): 14 nameable hosts. The scanner's
// resolv.conf names the router, as DHCP would set it.
func homeLAN() (*lab.Lab, []*lab.Host, error) {
	l, err := lab.Start(lab.Config{Hosts: 20})
	if err != nil {
		return nil, nil, err
	}
	h := func(n int) *lab.Host { return l.Hosts[n-1] }
	named := []*lab.Host{h(2)}
	dns := map[string]netip.Addr{"router.lan": h(2).Addr}
	for n := 3; n <= 12; n++ {
		dns[fmt.Sprintf("client%d.lan", n)] = h(n).Addr
		named = append(named, h(n))
	}
	steps := []func() error{
		func() error { return h(2).StartDNS(dns) },
		func() error { return h(13).StartAvahi("labhost13") },
		func() error { return h(14).StartAvahi("labhost14") },
		func() error { return h(15).StartNMBD("SAMBA15", "WORKGROUP") },
		func() error { return h(1).UseResolver(h(2).Addr) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			l.Close()
			return nil, nil, err
		}
	}
	return l, append(named, h(13), h(14), h(15)), nil
}

// namer is one tool of the names comparison: its command line and how to
// read the hosts it named from its output.
type namer struct {
	tool  string
	cmd   []string
	named func(out []byte) map[string]bool // address -> named
}

// runNames compares, on the home LAN, how many of its 14 nameable hosts
// each tool names and how long it takes; arp-scan gives the time to beat.
func runNames(runs int, bin string) error {
	for _, tool := range []string{"nmap", "nbtscan", "nmbd", "dnsmasq", "avahi-daemon", "arp-scan"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("home-lan needs %s (scripts/setup.sh installs it)", tool)
		}
	}
	l, nameable, err := homeLAN()
	if err != nil {
		return err
	}
	defer l.Close()
	scanner := l.Hosts[0]
	cidr := l.Prefix.String()
	ours := []string{bin, "--no-self", "-i", "eth0", "-f", "json"}
	namers := []namer{
		{"ipfinder", ours, namedJSON},
		{"ipf-mdns", append(slices.Clone(ours), "--no-rdns", "--no-netbios"), namedJSON},
		{"nmap-sn", []string{"nmap", "-sn", "-e", "eth0", cidr}, namedNmap},
		{"nbtscan", []string{"nbtscan", "-q", cidr}, namedNbtscan},
		{"arp-scan", []string{"arp-scan", "-I", "eth0", "--localnet"}, func([]byte) map[string]bool { return nil }},
	}
	times := make([][]time.Duration, len(namers))
	named := make([]int, len(namers))
	for i := range runs {
		for k := range namers {
			j := (k + i) % len(namers) // rotate the order
			n := namers[j]
			r, err := timed(scanner, n.cmd, 2*time.Minute)
			if err != nil {
				return err
			}
			times[j] = append(times[j], r.took)
			got := n.named(r.out)
			for _, h := range nameable {
				if got[h.Addr.String()] {
					named[j]++
				}
			}
		}
	}
	fmt.Printf("\nhome LAN (%s, 19 hosts besides the scanner, %d nameable: 11 by the router's DNS, 2 by mDNS, 1 by NetBIOS), %d runs each\n",
		cidr, len(nameable), runs)
	fmt.Printf("%-10s %10s %12s %8s\n", "tool", "median", "named", "vs arp-scan")
	base := stats.Median(times[len(namers)-1])
	for j, n := range namers {
		namedCol := fmt.Sprintf("%d/%d", named[j], len(nameable)*runs)
		if n.tool == "arp-scan" {
			namedCol = "-"
		}
		fmt.Printf("%-10s %10s %12s %7.2fx\n", n.tool, stats.Median(times[j]).Round(time.Millisecond), namedCol,
			float64(stats.Median(times[j]))/float64(base))
	}
	return nil
}

// timing is what timed saw of one command.
type timing struct {
	out   []byte
	took  time.Duration    // wall time
	state *os.ProcessState // for its resource usage
}

// timed runs cmd in h's namespace, killing it after timeout, and returns
// its output, wall time and state; its stderr goes into the error.
func timed(h *lab.Host, cmd []string, timeout time.Duration) (timing, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c := h.Command(ctx, cmd[0], cmd[1:]...)
	var stderr strings.Builder
	c.Stderr = &stderr
	start := time.Now()
	out, err := c.Output()
	took := time.Since(start)
	if err != nil {
		return timing{}, fmt.Errorf("%s: %w: %s", strings.Join(cmd, " "), err, stderr.String())
	}
	return timing{out: out, took: took, state: c.ProcessState}, nil
}

// namedJSON reads ipfinder's JSON output: hosts with a name.
func namedJSON(out []byte) map[string]bool {
	var hosts []jsonHost
	if json.Unmarshal(out, &hosts) != nil {
		return nil
	}
	m := make(map[string]bool)
	for _, h := range hosts {
		m[h.IP] = len(h.Names) > 0
	}
	return m
}

var nmapNamed = regexp.MustCompile(`(?m)^Nmap scan report for \S+ \((\d+\.\d+\.\d+\.\d+)\)$`)

// namedNmap reads `nmap -sn`: "Nmap scan report for NAME (IP)" names a
// host, "Nmap scan report for IP" does not.
func namedNmap(out []byte) map[string]bool {
	m := make(map[string]bool)
	for _, s := range nmapNamed.FindAllSubmatch(out, -1) {
		m[string(s[1])] = true
	}
	return m
}

var nbtscanLine = regexp.MustCompile(`(?m)^(\d+\.\d+\.\d+\.\d+)\s+\S`)

// namedNbtscan reads `nbtscan -q`: one line "IP NAME ..." per host that
// answered.
func namedNbtscan(out []byte) map[string]bool {
	m := make(map[string]bool)
	for _, s := range nbtscanLine.FindAllSubmatch(out, -1) {
		m[string(s[1])] = true
	}
	return m
}
