package hostfile

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"

	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// needTool returns the path of a program, or skips the test without it
// (fails under CI=true).
func needTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		lab.SkipOrFail(t, fmt.Sprintf("%s not installed (Debian: erlang-base, dnsmasq-base, dnsutils)", name))
	}
	return path
}

// erlPrintHosts prints each term that net_adm:host_file() returns as the
// list of its characters, which Go reads without Erlang's quoting rules.
const erlPrintHosts = `case net_adm:host_file() of
  L when is_list(L) ->
    [case is_atom(A) of
       true -> io:format("~w~n", [atom_to_list(A)]);
       false -> io:format("notatom ~w~n", [A])
     end || A <- L];
  E -> io:format("error ~p~n", [E])
end, halt().`

// TestErlangInterop writes .hosts.erlang with tricky atoms and checks that
// a real erl reads back exactly the atoms written.
func TestErlangInterop(t *testing.T) {
	erl := needTool(t, "erl")
	hosts := []Host{
		{Addr: addr("192.0.2.5")},
		{Addr: addr("2001:db8::5")},
		{Addr: addr("fe80::1%eth0")},
		{Addr: addr("192.0.2.6"), Node: "app@192.0.2.6"},
		{Node: `o'neil@gamma.example`},
		{Node: `back\slash@gamma.example`},
		{Node: `"dq"%pct.dot@gamma.example`},
		{Node: "ünï€@ünï.example"},
		{Names: []string{"delta.example"}},
		{Names: []string{"reserved"}, Node: "end@reserved"},
		{Node: strings.Repeat("n", 253) + "@h"}, // 255 characters, the longest atom
	}
	dir := t.TempDir()
	path := filepath.Join(dir, ".hosts.erlang")
	if _, err := WriteFile(path, Erlang, hosts); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, erl, "-noshell", "-eval", erlPrintHosts)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("erl: %v\n%s%s", err, out, stderr.Bytes())
	}
	var got []string
	for line := range strings.Lines(string(out)) {
		s, err := parseCharList(strings.TrimSpace(line))
		if err != nil {
			t.Fatalf("erl printed %q: %v", line, err)
		}
		got = append(got, s)
	}
	var want []string
	for _, h := range sortedHosts(hosts) {
		switch {
		case h.Node != "":
			want = append(want, h.Node)
		case h.Addr.IsValid():
			want = append(want, h.Addr.String())
		default:
			want = append(want, h.Names[0])
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("erl read (-written +read):\n%s\nfile:\n%s", diff, readString(t, path))
	}
}

// parseCharList parses an Erlang list of character codes, "[97,98]".
func parseCharList(s string) (string, error) {
	body, open := strings.CutPrefix(s, "[")
	body, closed := strings.CutSuffix(body, "]")
	if !open || !closed {
		return "", fmt.Errorf("not a list")
	}
	var b strings.Builder
	for f := range strings.SplitSeq(body, ",") {
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			return "", err
		}
		b.WriteRune(rune(n))
	}
	return b.String(), nil
}

// TestErlangReadsErlQuoting has erl write atoms with its own quoting
// (io_lib:write_atom) and checks that Parse reads the same atoms.
func TestErlangReadsErlQuoting(t *testing.T) {
	erl := needTool(t, "erl")
	nodes := []string{`o'neil@h`, `back\slash@h`, `plain@h`, "ünï€@h", `Cap@h`, `a.b-c@h`, `sp%c@h`}
	var atoms []string
	for _, n := range nodes {
		atoms = append(atoms, fmt.Sprintf("list_to_atom(%s)", erlCharList(n)))
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "out.erlang")
	eval := fmt.Sprintf(`ok = file:write_file(%q, unicode:characters_to_binary([[io_lib:write_atom(A), ".\n"] || A <- [%s]])), halt().`,
		path, strings.Join(atoms, ", "))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, erl, "-noshell", "-eval", eval)
	cmd.Dir = dir // for a crash dump
	cmd.Env = append(os.Environ(), "HOME="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("erl: %v\n%s", err, out)
	}
	hosts, err := ReadFile(path, &ParseOptions{Format: Erlang})
	if err != nil {
		t.Fatalf("%v\n%s", err, readString(t, path))
	}
	var got []string
	for _, h := range hosts {
		got = append(got, h.Node)
	}
	if diff := cmp.Diff(nodes, got); diff != "" {
		t.Errorf("parsed erl's atoms (-want +got):\n%s\nfile:\n%s", diff, readString(t, path))
	}
}

func erlCharList(s string) string {
	var codes []string
	for _, r := range s {
		codes = append(codes, strconv.Itoa(int(r)))
	}
	return "[" + strings.Join(codes, ",") + "]"
}

// TestDnsmasqInterop writes a hosts(5) file and checks that a real
// dnsmasq, serving it on loopback, answers every name with its addresses.
func TestDnsmasqInterop(t *testing.T) {
	dnsmasq := needTool(t, "dnsmasq")
	if os.Geteuid() != 0 {
		lab.SkipOrFail(t, "dnsmasq test needs root (dnsmasq drops privileges to --user)")
	}
	hosts := []Host{
		{Addr: addr("192.0.2.10"), Names: []string{"alpha.example", "alpha"}},
		{Addr: addr("2001:db8::10"), Names: []string{"alpha.example"}},
		{Addr: addr("192.0.2.11"), Names: []string{"beta.example"}},
		{Addr: addr("192.0.2.12"), Names: []string{"beta.example", "gamma.example"}},
		{Addr: addr("198.51.100.7"), Names: []string{"under_score.example", "trailing.example."}},
		{Addr: addr("2001:db8::20"), Names: []string{"v6only.example"}},
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "hosts")
	if _, err := WriteFile(path, Hosts, hosts); err != nil {
		t.Fatal(err)
	}
	port := startDnsmasq(t, dnsmasq, dir, path)

	want := map[string][]string{} // "name A" -> addresses
	for _, h := range hosts {
		qtype := "A"
		if h.Addr.Is6() {
			qtype = "AAAA"
		}
		for _, n := range h.Names {
			k := dns.Fqdn(n) + " " + qtype
			want[k] = append(want[k], h.Addr.String())
		}
	}
	c := &dns.Client{Timeout: 2 * time.Second}
	server := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for k, addrs := range want {
		name, qtype, _ := strings.Cut(k, " ")
		m := new(dns.Msg)
		m.SetQuestion(name, dns.StringToType[qtype])
		r, _, err := c.Exchange(m, server)
		if err != nil {
			t.Fatalf("query %s: %v", k, err)
		}
		var got []string
		for _, rr := range r.Answer {
			switch rr := rr.(type) {
			case *dns.A:
				got = append(got, rr.A.String())
			case *dns.AAAA:
				got = append(got, rr.AAAA.String())
			}
		}
		slices.Sort(got)
		slices.Sort(addrs)
		if diff := cmp.Diff(addrs, got); diff != "" {
			t.Errorf("dnsmasq answer for %s (-want +got):\n%s", k, diff)
		}
	}
}

// TestDnsmasqPortTaken: when another DNS server takes the picked port
// before dnsmasq binds it, startDnsmasq moves on to another port rather than
// hand out the other server's.
func TestDnsmasqPortTaken(t *testing.T) {
	dnsmasq := needTool(t, "dnsmasq")
	decoy, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: decoy, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		w.WriteMsg(m.SetRcode(r, dns.RcodeNameError))
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	taken := decoy.LocalAddr().(*net.UDPAddr).Port
	picked := false
	pick := func() (int, error) { // the decoy's port first, as if it won the race
		if !picked {
			picked = true
			return taken, nil
		}
		return freePort()
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "hosts")
	if err := os.WriteFile(path, []byte("192.0.2.7 seven.example\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	port := startDnsmasqPicking(t, dnsmasq, dir, path, pick)
	if port == taken {
		t.Fatalf("startDnsmasq returned port %d, which the decoy holds", port)
	}
	m := new(dns.Msg)
	m.SetQuestion("seven.example.", dns.TypeA)
	r, _, err := (&dns.Client{Timeout: 2 * time.Second}).Exchange(m, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil || !answers(r, "192.0.2.7") {
		t.Errorf("seven.example on port %d: %v %v, want 192.0.2.7", port, r, err)
	}
}

// startDnsmasq starts dnsmasq serving hostsFile on a free loopback port,
// waits until it answers and stops it in t.Cleanup.
func startDnsmasq(t *testing.T, dnsmasq, dir, hostsFile string) int {
	t.Helper()
	return startDnsmasqPicking(t, dnsmasq, dir, hostsFile, freePort)
}

// startDnsmasqPicking is startDnsmasq with the port chooser pick. A port
// free when picked may be taken before dnsmasq binds it (dnsmasq cannot take
// a bound socket), so dnsmasq failing with EADDRINUSE means another try on
// another port, and the port counts as dnsmasq's only once it answers a
// name that only this dnsmasq serves.
func startDnsmasqPicking(t *testing.T, dnsmasq, dir, hostsFile string, pick func() (int, error)) int {
	t.Helper()
	probe := filepath.Join(dir, "probe.hosts")
	name := fmt.Sprintf("probe-%d-%d.dnsmasq.test.", os.Getpid(), time.Now().UnixNano())
	if err := os.WriteFile(probe, []byte(probeAddr+" "+name+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var lastErr error
	for range 5 {
		port, err := pick()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd := exec.Command(dnsmasq,
			"--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
			"--addn-hosts="+hostsFile, "--addn-hosts="+probe,
			"--listen-address=127.0.0.1", "--bind-interfaces",
			"--port="+strconv.Itoa(port), "--user=root",
			"--pid-file="+filepath.Join(dir, "dnsmasq.pid"))
		cmd.Stderr = &stderr
		cmd.WaitDelay = time.Second // a child holding stderr must not hang Wait
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{}) // closed when dnsmasq has exited
		go func() { cmd.Wait(); close(exited) }()
		if err := waitDNS(port, name, exited); err != nil {
			cmd.Process.Kill()
			<-exited
			lastErr = fmt.Errorf("port %d: %v: %s", port, err, bytes.TrimSpace(stderr.Bytes()))
			if !strings.Contains(stderr.String(), "in use") {
				break // not a lost race: another port will not help
			}
			continue
		}
		t.Cleanup(func() {
			cmd.Process.Kill()
			<-exited
		})
		return port
	}
	t.Fatalf("dnsmasq did not start: %v", lastErr)
	return 0
}

// probeAddr is the address of startDnsmasqPicking's probe name.
const probeAddr = "198.51.100.53"

// freePort returns a UDP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

// waitDNS polls the DNS server on port until it answers name with
// probeAddr, dnsmasq exits, or 10 seconds pass.
func waitDNS(port int, name string, exited <-chan struct{}) error {
	c := &dns.Client{Timeout: 200 * time.Millisecond}
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	server := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("dnsmasq exited")
		default:
		}
		r, _, err := c.Exchange(m, server)
		if err == nil && answers(r, probeAddr) {
			return nil
		}
		if err == nil {
			time.Sleep(10 * time.Millisecond) // someone else answers: wait for dnsmasq to exit
		}
	}
	return fmt.Errorf("dnsmasq did not answer on port %d", port)
}

// answers reports whether r has the A record addr.
func answers(r *dns.Msg, addr string) bool {
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok && a.A.String() == addr {
			return true
		}
	}
	return false
}
