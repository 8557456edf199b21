//go:build linux

// Command checks measures what health checks cost the agent: it runs TCP
// and HTTP checks (and optionally exec checks) with package check at a
// 1 s interval against loopback servers and prints the CPU time the
// checking process used, as a percentage of one core (getrusage). The
// servers run in a child process, so their CPU is not counted. Run it by
// hand:
//
//	go run ./bench/checks                        # 100 TCP + 100 HTTP checks, 30 s
//	go run ./bench/checks -tcp 100 -http 0 -duration 1m
//	go run ./bench/checks -tcp 0 -http 0 -exec 100
//
// Everything binds 127.0.0.1; nothing leaves the machine.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/check"
)

func main() {
	nTCP := flag.Int("tcp", 100, "TCP checks")
	nHTTP := flag.Int("http", 100, "HTTP checks")
	nExec := flag.Int("exec", 0, "exec checks (exec:true)")
	interval := flag.Duration("interval", time.Second, "check interval")
	duration := flag.Duration("duration", 30*time.Second, "measurement window")
	serve := flag.Bool("serve", false, "internal: be the loopback servers")
	flag.Parse()
	if *serve {
		if err := runServers(*nTCP, *nHTTP); err != nil {
			fmt.Fprintln(os.Stderr, "servers:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*nTCP, *nHTTP, *nExec, *interval, *duration); err != nil {
		fmt.Fprintln(os.Stderr, "checks:", err)
		os.Exit(1)
	}
}

func run(nTCP, nHTTP, nExec int, interval, duration time.Duration) error {
	specs, stop, err := startServers(nTCP, nHTTP)
	if err != nil {
		return err
	}
	defer stop()
	for range nExec {
		specs = append(specs, "exec:true")
	}
	r := check.NewRunner()
	defer r.Close()
	for i, s := range specs {
		spec, err := check.Parse(s)
		if err != nil {
			return err
		}
		if err := r.Add(fmt.Sprint(i), check.Entry{Specs: []check.Spec{spec}, Interval: interval}); err != nil {
			return err
		}
	}
	if err := waitAllPassing(r, 30*time.Second); err != nil {
		return err
	}
	before, beforeKids, start := cpuTime(syscall.RUSAGE_SELF), cpuTime(syscall.RUSAGE_CHILDREN), time.Now()
	time.Sleep(duration) // the measurement window
	used, wall := cpuTime(syscall.RUSAGE_SELF)-before, time.Since(start)
	kids := cpuTime(syscall.RUSAGE_CHILDREN) - beforeKids
	bad := 0
	for _, s := range r.List() {
		if s.State != check.Passing || time.Since(s.Checks[0].Time) > 2*interval {
			bad++
		}
	}
	fmt.Printf("%d checks (%d tcp, %d http, %d exec) every %v for %v: %.2f%% of a core (%.2f s CPU); %d not passing or late\n",
		len(specs), nTCP, nHTTP, nExec, interval, wall.Round(time.Second),
		100*used.Seconds()/wall.Seconds(), used.Seconds(), bad)
	if nExec > 0 {
		fmt.Printf("exec'd commands: %.2f%% of a core more\n", 100*kids.Seconds()/wall.Seconds())
	}
	return nil
}

func waitAllPassing(r *check.Runner, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		n := 0
		for _, s := range r.List() {
			if s.State != check.Passing {
				n++
			}
		}
		if n == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d checks not passing after %v", n, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cpuTime returns the user and system time used by this process
// (RUSAGE_SELF) or its reaped children (RUSAGE_CHILDREN).
func cpuTime(who int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startServers starts this program as the loopback servers and returns
// the check specs for them.
func startServers(nTCP, nHTTP int) ([]string, func(), error) {
	self, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(self, "-serve", fmt.Sprint("-tcp=", nTCP), fmt.Sprint("-http=", nHTTP))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	stop := func() { cmd.Process.Kill(); cmd.Wait() }
	var specs []string
	sc := bufio.NewScanner(out)
	for sc.Scan() && sc.Text() != "ready" {
		specs = append(specs, sc.Text())
	}
	if len(specs) != nTCP+nHTTP {
		stop()
		return nil, nil, fmt.Errorf("servers started %d of %d listeners", len(specs), nTCP+nHTTP)
	}
	return specs, stop, nil
}

// runServers listens on loopback, prints one check spec per listener and
// "ready", and serves until killed.
func runServers(nTCP, nHTTP int) error {
	for range nTCP {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		go acceptAndClose(ln)
		fmt.Println("tcp://" + ln.Addr().String())
	}
	health := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	})
	for range nHTTP {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		go http.Serve(ln, health)
		fmt.Println("http://" + ln.Addr().String() + "/health")
	}
	fmt.Println("ready")
	select {}
}

func acceptAndClose(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}
