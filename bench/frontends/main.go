// Command frontends measures sdjoin's front-ends on one agent holding
// 1000 entries (tracked by peer trackers in this process, 50 services of
// 20 entries by default): DNS SRV queries per second over UDP with p50
// and p99 latency (concurrent workers, one socket each), the control
// socket's pick beside it, HTTP GET /v1/pick/NAME when the binary has
// --http, and the agent's RSS idle and with 100 SSE clients on
// /v1/events. Each front-end is measured in every run, order rotated;
// the table shows medians over the runs. Run it by hand:
//
//	go run ./bench/frontends                   # 5 runs of 5 s per front-end
//	go run ./bench/frontends -runs 9 -workers 16 -sdjoin bin/sdjoin
//
// Everything binds 127.0.0.1; nothing leaves the machine.
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/ipfinder-go/ipfinder/bench/internal/sdjoinbench"
	"github.com/ipfinder-go/ipfinder/bench/internal/stats"
)

type config struct {
	runs, workers, entries, services, peers, sse int
	duration                                     time.Duration
}

// frontend is one row of the table.
type frontend struct {
	name      string
	newWorker func() (request, func(), error)
	results   []result
}

func main() {
	var cfg config
	flag.IntVar(&cfg.runs, "runs", 5, "runs of each front-end")
	flag.DurationVar(&cfg.duration, "duration", 5*time.Second, "length of each run")
	flag.IntVar(&cfg.workers, "workers", 8, "concurrent clients")
	flag.IntVar(&cfg.entries, "entries", 1000, "entries the agent sees")
	flag.IntVar(&cfg.services, "services", 50, "services the entries are spread over")
	flag.IntVar(&cfg.peers, "peers", 4, "peer trackers holding the entries")
	flag.IntVar(&cfg.sse, "sse", 100, "SSE clients for the RSS measurement")
	bin := flag.String("sdjoin", "", "sdjoin binary (default: go build ./cmd/sdjoin)")
	flag.Parse()
	dir, sdjoin, err := sdjoinbench.Prepare("bench-frontends-", *bin)
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	if err := run(sdjoin, dir, cfg); err != nil {
		fail(err)
	}
}

func run(bin, dir string, cfg config) error {
	help, _ := exec.Command(bin, "--help").CombinedOutput()
	withHTTP := strings.Contains(string(help), "--http ")
	a, err := startAgent(bin, dir, withHTTP)
	if err != nil {
		return err
	}
	defer a.close()
	if err := a.addEntries(cfg.peers, cfg.services, cfg.entries); err != nil {
		return err
	}
	fes := []*frontend{
		{name: fmt.Sprintf("DNS SRV over UDP (%d workers)", cfg.workers), newWorker: dnsWorker(a.dns.String(), cfg.services)},
		{name: "control socket pick", newWorker: controlWorker(a.sock, cfg.services)},
	}
	if withHTTP {
		base := "http://" + a.http.String()
		fes = append(fes, &frontend{name: "HTTP GET /v1/pick/NAME", newWorker: httpWorker(base, cfg.services)})
	}
	for i := range cfg.runs {
		for j := range fes {
			fe := fes[(i+j)%len(fes)]
			r, err := measureAgent(a, cfg, fe)
			if err != nil {
				return fmt.Errorf("%s: %w", fe.name, err)
			}
			fe.results = append(fe.results, r)
			fmt.Fprintf(os.Stderr, "run %d %s: %.0f/s p50 %v p99 %v, agent CPU %v, client CPU %v per request (%d errors)\n",
				i+1, fe.name, r.rate, r.p50, r.p99, r.cpu, r.clientCPU, r.errs)
		}
	}
	fmt.Printf("%d entries in %d services on %d peers, %d runs of %v, %d workers; medians\n\n",
		cfg.entries, cfg.services, cfg.peers, cfg.runs, cfg.duration, cfg.workers)
	printRates(fes)
	if withHTTP {
		return printRSS(a, cfg.sse)
	}
	fmt.Println("\n(no --http in this sdjoin: HTTP and SSE rows skipped)")
	return nil
}

// measureAgent measures fe and the agent's CPU time per request.
func measureAgent(a *agent, cfg config, fe *frontend) (result, error) {
	before, err := a.cpu()
	if err != nil {
		return result{}, err
	}
	clientBefore := selfCPU()
	r, err := measure(cfg.workers, cfg.duration, fe.newWorker)
	if err != nil {
		return r, err
	}
	r.clientCPU = (selfCPU() - clientBefore) / time.Duration(r.n)
	after, err := a.cpu()
	r.cpu = (after - before) / time.Duration(r.n)
	return r, err
}

// selfCPU returns this process's user and system time: the clients and
// the peer trackers (idle while measuring).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		fail(fmt.Errorf("getrusage: %w", err))
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// printRates prints the rate and latency table: medians over the runs,
// rates against the control socket's.
func printRates(fes []*frontend) {
	ctl := medianRate(fes[1].results)
	fmt.Println("| front-end | requests/s | p50 | p99 | agent CPU per request | requests/s per agent core | client CPU per request | vs control socket | errors |")
	fmt.Println("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, fe := range fes {
		var p50, p99, cpu, client []time.Duration
		errs := 0
		for _, r := range fe.results {
			p50, p99, cpu = append(p50, r.p50), append(p99, r.p99), append(cpu, r.cpu)
			client = append(client, r.clientCPU)
			errs += r.errs
		}
		rate, perReq := medianRate(fe.results), stats.Median(cpu)
		fmt.Printf("| %s | %.0f | %v | %v | %v | %.0f | %v | %.2fx | %d |\n", fe.name, rate, micro(stats.Median(p50)),
			micro(stats.Median(p99)), micro(perReq), float64(time.Second)/float64(perReq), micro(stats.Median(client)), rate/ctl, errs)
	}
}

func medianRate(rs []result) float64 {
	var rates []float64
	for _, r := range rs {
		rates = append(rates, r.rate)
	}
	return stats.Median(rates)
}

func micro(d time.Duration) time.Duration { return d.Round(time.Microsecond) }

// printRSS prints the agent's RSS idle and with n SSE clients.
func printRSS(a *agent, n int) error {
	idle, err := a.rss()
	if err != nil {
		return err
	}
	closeStreams, err := openStreams("http://"+a.http.String()+"/v1/events", n)
	if err != nil {
		return err
	}
	defer closeStreams()
	time.Sleep(time.Second) // let the agent settle: the measurement window
	with, err := a.rss()
	if err != nil {
		return err
	}
	fmt.Printf("\n| agent RSS | MB |\n| --- | --- |\n| after the load above | %.1f |\n| with %d SSE clients on /v1/events | %.1f |\n",
		mb(idle), n, mb(with))
	return nil
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

// openStreams opens n event streams and keeps reading them until the
// returned function closes them.
func openStreams(url string, n int) (func(), error) {
	tr := &http.Transport{MaxIdleConnsPerHost: n}
	cl := &http.Client{Transport: tr}
	var bodies []func() error
	closeAll := func() {
		for _, c := range bodies {
			c()
		}
		tr.CloseIdleConnections()
	}
	for range n {
		resp, err := cl.Get(url)
		if err != nil {
			closeAll()
			return nil, err
		}
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			resp.Body.Close()
			closeAll()
			return nil, fmt.Errorf("GET /v1/events: %s, %s", resp.Status, resp.Header.Get("Content-Type"))
		}
		bodies = append(bodies, resp.Body.Close)
		go io.Copy(io.Discard, resp.Body) // ends when closeAll closes it
	}
	return closeAll, nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "frontends:", err)
	os.Exit(1)
}
