//go:build linux

// Command ipfinder compares the ipfinder binary with arp-scan on virtual LANs
// it builds itself (internal/lab): it never touches the machine's own
// network. Run it by hand as root from the module root:
//
//	go run ./bench/ipfinder                 # every scenario, then the /22 and /16
//	go run ./bench/ipfinder -big=false -runs 3
//	go run ./bench/ipfinder -only scale     # the /22 and /16 only
//
// The "home-lan" scenario (issue 11) comes first: a 20-host LAN with a
// router whose DNS knows 11 hosts' names, two avahi hosts and a Samba host;
// it counts the hosts that full ipfinder, ipfinder with mDNS only,
// `nmap -sn` (reverse DNS) and `nbtscan` name, and compares their times
// with arp-scan's.
//
// The other scenarios are a /24 with -hosts live hosts besides the scanner
// (lab host 1). Our side is `ipfinder --no-mdns --no-rdns --no-netbios`
// (built here), except in the "full-mdns" scenario, where it also asks
// mDNS and five hosts run avahi-daemon; arp-scan runs as `arp-scan -I eth0 --localnet` in the same
// namespace. Runs alternate between the tools; the table shows median wall
// time, recall over all runs and the ratio of the medians. The full-mdns
// scenario also counts, over all runs, the avahi hosts' names and services
// that our JSON output lists.
//
// The scale comparison (issue 11) comes last: a /22 with -scalehosts live
// hosts, clean and behind 10% reply loss, and a /16 with as many (-big),
// swept by ipfinder with defaults, `arp-scan --localnet` and
// `nmap -sn -n PREFIX`, order rotated; it prints median times, recall over
// all runs, the ratio to arp-scan and each tool's peak RSS.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/ipfinder-go/ipfinder/bench/internal/stats"
	"github.com/ipfinder-go/ipfinder/internal/lab"
)

func main() {
	runs := flag.Int("runs", 5, "pairs of runs per scenario")
	lossRuns := flag.Int("lossruns", 10, "pairs of runs in the loss scenario")
	hosts := flag.Int("hosts", 60, "live hosts besides the scanner")
	ours := flag.String("ours", "", `our command line, {addr} is the scanner's address (default: ipfinder --no-mdns, built here)`)
	big := flag.Bool("big", true, "also sweep a /16 in the scale comparison")
	bigRuns := flag.Int("bigruns", 1, "runs per tool on the /16")
	scaleRuns := flag.Int("scaleruns", 3, "runs per tool on the /22")
	scaleHosts := flag.Int("scalehosts", 200, "live hosts in the /22 and the /16")
	tools := flag.String("scaletools", "ipfinder,arp-scan,nmap", "tools of the scale comparison")
	only := flag.String("only", "", "run only the scenarios whose name contains this")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "bench/ipfinder: must run as root: it builds network namespaces")
		os.Exit(1)
	}
	scale := scaleCases(*scaleRuns, *bigRuns, *big)
	if err := run(*runs, *lossRuns, *hosts, *ours, scale, *scaleHosts, strings.Split(*tools, ","), *only); err != nil {
		fmt.Fprintln(os.Stderr, "bench/ipfinder:", err)
		os.Exit(1)
	}
}

// scenario is one lab setup and the extra arguments our tool gets in it.
type scenario struct {
	name  string
	runs  int
	setup func(l *lab.Lab) error
	args  []string // appended to our command line
	mdns  bool     // run ours with mDNS (drop --no-mdns)
	// published is what avahi announces on lab hosts, by host index:
	// counted in our JSON output.
	published map[int]mdnsInfo
}

// mdnsInfo is a host's mDNS name and services.
type mdnsInfo struct {
	name     string
	services []string
}

type result struct {
	times []time.Duration
	found int // hosts found, over all runs
	want  int
	rss   []int64 // peak RSS in KiB
	// names and services of published hosts found, and of them wanted,
	// over all runs (mDNS scenarios only)
	names, wantNames       int
	services, wantServices int
}

func run(runs, lossRuns, hosts int, ours string, scale []scaleCase, scaleHosts int, tools []string, only string) error {
	tmp, err := os.MkdirTemp("", "bench-arp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if ours == "" {
		bin := filepath.Join(tmp, "ipfinder")
		build := exec.Command("go", "build", "-o", bin, "./cmd/ipfinder")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("building ipfinder (run from the module root): %w", err)
		}
		ours = bin + " --no-mdns --no-rdns --no-netbios --no-self -i eth0 -f plain"
		if strings.Contains("home-lan", only) {
			if err := runNames(runs, bin); err != nil {
				return fmt.Errorf("home-lan: %w", err)
			}
		}
	}
	scenarios := []scenario{
		{name: "clean", runs: runs},
		{name: "loss10", runs: lossRuns, setup: func(l *lab.Lab) error {
			for _, h := range l.Hosts[1:] {
				if err := h.SetLoss(10); err != nil {
					return err
				}
			}
			return nil
		}},
		{name: "slow3x300ms", runs: runs, setup: func(l *lab.Lab) error {
			for _, h := range l.Hosts[1:4] {
				if err := h.StartSlowARP(300 * time.Millisecond); err != nil {
					return err
				}
			}
			return nil
		}},
		{name: "clean-timeout50ms", runs: runs, args: []string{"--timeout", "50ms"}},
		fullMDNS(runs),
	}
	fmt.Printf("%-18s %-9s %5s %10s %14s %7s\n", "scenario", "tool", "runs", "median", "recall", "ratio")
	for _, sc := range scenarios {
		if !strings.Contains(sc.name, only) {
			continue
		}
		ourRes, theirRes, err := runScenario(sc, hosts, ours)
		if err != nil {
			return fmt.Errorf("%s: %w", sc.name, err)
		}
		ratio := float64(stats.Median(ourRes.times)) / float64(stats.Median(theirRes.times))
		printRow(sc.name, "ipfinder", ourRes, fmt.Sprintf("%.2fx", ratio))
		printRow(sc.name, "arp-scan", theirRes, "")
	}
	scale = slices.DeleteFunc(scale, func(c scaleCase) bool { return !strings.Contains("scale "+c.name, only) })
	return runScale(scale, scaleHosts, ours, tools)
}

// fullMDNS is a run with mDNS, five hosts running avahi-daemon with
// _ssh._tcp (and avahi's own _workstation._tcp).
func fullMDNS(runs int) scenario {
	sc := scenario{name: "full-mdns", runs: runs, mdns: true, args: []string{"-f", "json"}, published: map[int]mdnsInfo{}}
	for i := 1; i <= 5; i++ {
		sc.published[i] = mdnsInfo{fmt.Sprintf("labhost%d", i+1), []string{"_ssh._tcp", "_workstation._tcp"}}
	}
	sc.setup = func(l *lab.Lab) error {
		for i, p := range sc.published {
			if err := l.Hosts[i].StartAvahi(p.name, lab.Service{Type: "_ssh._tcp", Port: 22}); err != nil {
				return err
			}
		}
		return nil
	}
	return sc
}

func printRow(name, tool string, r result, ratio string) {
	fmt.Printf("%-18s %-9s %5d %10s %7d/%-6d %7s", name, tool, len(r.times),
		stats.Median(r.times).Round(time.Millisecond), r.found, r.want, ratio)
	if r.wantNames > 0 {
		fmt.Printf("  names %d/%d services %d/%d", r.names, r.wantNames, r.services, r.wantServices)
	}
	fmt.Println()
}

func runScenario(sc scenario, hosts int, ours string) (result, result, error) {
	l, err := lab.Start(lab.Config{Hosts: hosts + 1})
	if err != nil {
		return result{}, result{}, err
	}
	defer l.Close()
	if sc.setup != nil {
		if err := sc.setup(l); err != nil {
			return result{}, result{}, err
		}
	}
	scanner := l.Hosts[0]
	live := l.Hosts[1:]
	ourCmd := append(expand(ours, scanner.Addr), sc.args...)
	if sc.mdns {
		ourCmd = slices.DeleteFunc(ourCmd, func(s string) bool { return s == "--no-mdns" })
	}
	theirCmd := []string{"arp-scan", "-I", scanner.Iface, "--localnet"}
	var ourRes, theirRes result
	for i := range sc.runs {
		order := []bool{true, false}
		if i%2 == 1 {
			order = []bool{false, true}
		}
		for _, isOurs := range order {
			cmd, res := theirCmd, &theirRes
			if isOurs {
				cmd, res = ourCmd, &ourRes
			}
			out, err := measure(scanner, cmd, live, res)
			if err != nil {
				return ourRes, theirRes, err
			}
			if isOurs && sc.published != nil {
				if err := countMDNS(out, l, sc.published, res); err != nil {
					return ourRes, theirRes, err
				}
			}
		}
	}
	return ourRes, theirRes, nil
}

// expand splits a command line and puts addr in for {addr}.
func expand(cmdline string, addr netip.Addr) []string {
	f := strings.Fields(strings.ReplaceAll(cmdline, "{addr}", addr.String()))
	return f
}

var ipv4 = regexp.MustCompile(`(?m)^\s*(\d+\.\d+\.\d+\.\d+)\s`)

// measure runs cmd in the scanner's namespace, adds its wall time, recall
// and peak RSS to res and returns its output.
func measure(scanner *lab.Host, cmd []string, live []*lab.Host, res *result) ([]byte, error) {
	r, err := timed(scanner, cmd, 10*time.Minute)
	if err != nil {
		return nil, err
	}
	out := r.out
	seen := map[string]bool{}
	for _, m := range ipv4.FindAllStringSubmatch(string(out), -1) {
		seen[m[1]] = true
	}
	for _, m := range jsonIP.FindAllStringSubmatch(string(out), -1) {
		seen[m[1]] = true
	}
	for _, m := range nmapReport.FindAllStringSubmatch(string(out), -1) {
		seen[m[1]] = true
	}
	for _, h := range live {
		if seen[h.Addr.String()] {
			res.found++
		}
	}
	res.want += len(live)
	res.times = append(res.times, r.took)
	if ru, ok := r.state.SysUsage().(*syscall.Rusage); ok {
		res.rss = append(res.rss, ru.Maxrss)
	}
	return out, nil
}

var jsonIP = regexp.MustCompile(`"ip":\s*"(\d+\.\d+\.\d+\.\d+)"`)

// jsonHost is what countMDNS reads of a host in ipfinder's JSON output.
type jsonHost struct {
	IP       string   `json:"ip"`
	Names    []string `json:"names"`
	Services []string `json:"services"`
}

// countMDNS adds the published names and services that out, ipfinder's
// JSON output, lists for their hosts to res.
func countMDNS(out []byte, l *lab.Lab, published map[int]mdnsInfo, res *result) error {
	var hosts []jsonHost
	if err := json.Unmarshal(out, &hosts); err != nil {
		return fmt.Errorf("output is not JSON: %w", err)
	}
	for i, p := range published {
		res.wantNames++
		res.wantServices += len(p.services)
		j := slices.IndexFunc(hosts, func(h jsonHost) bool { return h.IP == l.Hosts[i].Addr.String() })
		if j < 0 {
			continue
		}
		if slices.Contains(hosts[j].Names, p.name+".local") {
			res.names++
		}
		for _, s := range p.services {
			if slices.Contains(hosts[j].Services, s) {
				res.services++
			}
		}
	}
	return nil
}
