// Command labdemo runs ipfinder and sdjoin in a throwaway virtual LAN of 20
// hosts, a few of them publishing mDNS names and services with a real
// avahi-daemon and one running an Erlang node, prints what they find, and
// tears the LAN down. Nothing leaves the lab's network namespaces.
//
// Usage (as root; scripts/demo.sh builds the binaries first):
//
//	go run ./internal/lab/cmd/labdemo -bin ./bin
package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/lab"
)

func main() {
	bin := flag.String("bin", "bin", "directory holding the ipfinder and sdjoin binaries")
	hosts := flag.Int("hosts", 20, "number of lab hosts")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *bin, *hosts); err != nil {
		fmt.Fprintln(os.Stderr, "labdemo:", err)
		os.Exit(1)
	}
}

// step prints a heading on stderr, so stdout holds only what the tools print.
func step(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "\n\033[1m== "+format+"\033[0m\n", a...)
}

func run(ctx context.Context, bin string, n int) error {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("the lab needs root to create network namespaces: run sudo scripts/demo.sh")
	}
	step("building a virtual LAN of %d hosts (network namespaces on a bridge)", n)
	l, err := lab.Start(lab.Config{Hosts: n})
	if err != nil {
		return err
	}
	defer func() {
		step("tearing the lab down")
		l.Close()
	}()
	fmt.Fprintf(os.Stderr, "lab %s: %s, hosts %s .. %s\n", l.Name, l.Prefix, l.Hosts[0].Addr, l.Hosts[n-1].Addr)

	published := map[int][]lab.Service{
		2:  {{Type: "_ssh._tcp", Port: 22}},
		6:  {{Type: "_http._tcp", Port: 80}, {Type: "_ssh._tcp", Port: 22}},
		11: {{Type: "_ipp._tcp", Port: 631}},
		15: {{Type: "_smb._tcp", Port: 445}},
	}
	for i, svcs := range published {
		if i >= n {
			continue
		}
		name := fmt.Sprintf("labhost%d", i+1)
		if err := l.Hosts[i].StartAvahi(name, svcs...); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "avahi-daemon on %s publishes %s.local with %v\n", l.Hosts[i].Addr, name, svcs)
	}
	erlHost := l.Hosts[min(4, n-1)]
	erl := erlHost.Command(ctx, "erl", "-name", "app@"+erlHost.Addr.String(), "-setcookie", "demo", "-noshell")
	if err := erlHost.Start(erl); err != nil {
		return fmt.Errorf("start erl: %w", err)
	}
	fmt.Fprintf(os.Stderr, "erl runs node app@%s\n", erlHost.Addr)

	me := l.Hosts[0]
	if err := nameSources(l, me); err != nil {
		return err
	}
	step("ipfinder on %s (hosts(5) format, the default)", me.Addr)
	start := time.Now()
	if err := tool(ctx, me, filepath.Join(bin, "ipfinder")); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "(took %.2f s)\n", time.Since(start).Seconds())

	step("ipfinder -f erlang --epmd (Erlang nodes registered with each host's epmd)")
	if err := waitEPMD(ctx, me, erlHost, bin); err != nil {
		return err
	}

	step("ipfinder --no-mdns -f json --timeout 50ms, first two hosts")
	out, err := me.Command(ctx, filepath.Join(bin, "ipfinder"), "--no-mdns", "-f", "json", "--timeout", "50ms").Output()
	if err != nil {
		return fmt.Errorf("ipfinder: %w", err)
	}
	lines := strings.SplitAfter(string(out), "\n")
	fmt.Print(strings.Join(lines[:min(len(lines), 26)], ""), "  ...\n")

	return cluster(ctx, l, bin)
}

// nameSources makes the last host a home router whose DNS knows a few
// clients' names, makes it me's DNS server, and runs a Samba host that
// answers NetBIOS, so ipfinder shows names from every source.
func nameSources(l *lab.Lab, me *lab.Host) error {
	n := len(l.Hosts)
	if n < 14 {
		return nil
	}
	router := l.Hosts[n-1]
	names := map[string]netip.Addr{"router.lan": router.Addr}
	for i := 6; i <= 9; i++ { // labhost7 publishes mDNS too
		names[fmt.Sprintf("client%d.lan", i+1)] = l.Hosts[i].Addr
	}
	if err := router.StartDNS(names); err != nil {
		return err
	}
	if err := me.UseResolver(router.Addr); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "dnsmasq on %s answers reverse DNS for %d clients; %s's resolv.conf names it\n", router.Addr, len(names), me.Addr)
	samba := l.Hosts[12]
	if err := samba.StartNMBD("DESKTOP13", "WORKGROUP"); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "nmbd on %s answers NetBIOS as DESKTOP13\n", samba.Addr)
	return nil
}

// tool runs a command in host h with its output on ours.
func tool(ctx context.Context, h *lab.Host, name string, args ...string) error {
	cmd := h.Command(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(name), err)
	}
	return nil
}

// waitEPMD runs ipfinder --epmd until the Erlang node has registered.
func waitEPMD(ctx context.Context, me, erlHost *lab.Host, bin string) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err := me.Command(ctx, filepath.Join(bin, "ipfinder"), "-f", "erlang", "--epmd", "--no-mdns").Output()
		if err == nil && strings.Contains(string(out), "@"+erlHost.Addr.String()) {
			fmt.Print(string(out))
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the Erlang node on %s never showed up in epmd", erlHost.Addr)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// cluster is the sdjoin part: three agents read the hostfile ipfinder wrote,
// track services, see each other, and see one of them leave.
func cluster(ctx context.Context, l *lab.Lab, bin string) error {
	if len(l.Hosts) < 3 {
		return nil
	}
	dir, err := os.MkdirTemp("", "labdemo")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	me := l.Hosts[0]
	hostfile := filepath.Join(dir, "hosts")
	step("ipfinder -f plain -o %s (the peers for sdjoin)", hostfile)
	if err := tool(ctx, me, filepath.Join(bin, "ipfinder"), "--no-mdns", "-f", "plain", "-o", hostfile); err != nil {
		return err
	}

	services := [][]string{
		{"--track", "web", "--meta", "port=8080", "--meta", "load=3"},
		{"--track", "web", "--meta", "port=8080", "--meta", "load=1"},
		{"--track", "db", "--meta", "port=5432"},
	}
	step("sdjoin on %s, %s and %s (agent output of %s below)", l.Hosts[0].Addr, l.Hosts[1].Addr, l.Hosts[2].Addr, me.Addr)
	agents := make([]*exec.Cmd, len(services))
	for i, svc := range services {
		h := l.Hosts[i]
		args := append([]string{"--name", "demo", "--hostfile", hostfile,
			"--socket", filepath.Join(dir, fmt.Sprintf("agent%d.sock", i))}, svc...)
		if i == 0 { // its front-ends, on its namespace's loopback
			args = append(args, "--http", demoHTTP, "--dns", demoDNS)
		}
		cmd := h.Command(ctx, filepath.Join(bin, "sdjoin"), args...)
		if i == 0 {
			cmd.Stdout = os.Stdout
		}
		if err := h.Start(cmd); err != nil {
			return fmt.Errorf("start sdjoin: %w", err)
		}
		agents[i] = cmd
	}
	sock := filepath.Join(dir, "agent0.sock")
	if err := waitFor(ctx, me, bin, sock, "web", 2); err != nil {
		return err
	}
	if err := waitFor(ctx, me, bin, sock, "db", 1); err != nil {
		return err
	}
	step("sdjoin list (asked on %s)", me.Addr)
	if err := tool(ctx, me, filepath.Join(bin, "sdjoin"), "list", "--socket", sock); err != nil {
		return err
	}
	step("sdjoin pick web --policy least:load")
	if err := tool(ctx, me, filepath.Join(bin, "sdjoin"), "pick", "web", "--policy", "least:load", "--socket", sock); err != nil {
		return err
	}
	url := "http://" + demoHTTP + "/v1/pick/web?policy=least:load"
	step("curl -s %s (the HTTP API)", url)
	if err := tool(ctx, me, "curl", "-sS", "--max-time", "5", url); err != nil {
		return err
	}
	host, port, _ := strings.Cut(demoDNS, ":")
	step("dig @%s -p %s web.service.sdjoin SRV +short (the DNS interface)", host, port)
	if err := tool(ctx, me, "dig", "@"+host, "-p", port, "+time=2", "+tries=2", "+short", "web.service.sdjoin", "SRV"); err != nil {
		return err
	}
	step("stopping the agent on %s (SIGTERM: graceful leave)", l.Hosts[2].Addr)
	agents[2].Process.Signal(syscall.SIGTERM)
	agents[2].Wait()
	if err := waitFor(ctx, me, bin, sock, "db", 0); err != nil {
		return err
	}
	time.Sleep(300 * time.Millisecond) // let the agent's own leave lines reach the terminal first
	step("sdjoin list after the leave")
	return tool(ctx, me, filepath.Join(bin, "sdjoin"), "list", "--socket", sock)
}

// The front-ends of the demo's first agent, on its namespace's loopback.
const (
	demoHTTP = "127.0.0.1:8500"
	demoDNS  = "127.0.0.1:8600"
)

// waitFor polls the agent at sock until service has n providers.
func waitFor(ctx context.Context, h *lab.Host, bin, sock, service string, n int) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, _ := h.Command(ctx, filepath.Join(bin, "sdjoin"), "list", service, "--json", "--socket", sock).Output()
		if strings.Count(string(out), "\n") == n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s never had %d providers (have:\n%s)", service, n, out)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
