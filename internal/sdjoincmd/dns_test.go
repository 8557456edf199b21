package sdjoincmd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/ipfinder-go/ipfinder/internal/cliutil"
	"github.com/ipfinder-go/ipfinder/internal/lab"
	"github.com/ipfinder-go/ipfinder/tracker"
)

// goResolver is Go's own resolver asking only the DNS server at addr; it
// records the networks it dialed ("udp", "tcp").
type goResolver struct {
	*net.Resolver
	mu    sync.Mutex
	dials []string
}

func newGoResolver(dial func(ctx context.Context, network string) (net.Conn, error)) *goResolver {
	r := &goResolver{}
	r.Resolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		r.mu.Lock()
		r.dials = append(r.dials, network)
		r.mu.Unlock()
		return dial(ctx, network)
	}}
	return r
}

func loopbackResolver(addr netip.AddrPort) *goResolver {
	return newGoResolver(func(ctx context.Context, network string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr.String())
	})
}

func (r *goResolver) dialed(network string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Contains(r.dials, network)
}

// srvLines returns the SRV records as "PORT TARGET", sorted.
func srvLines(srvs []*net.SRV) []string {
	var out []string
	for _, s := range srvs {
		out = append(out, fmt.Sprintf("%d %s", s.Port, s.Target))
	}
	slices.Sort(out)
	return out
}

// dig runs dig against the DNS server at 127.0.0.1:port.
func dig(t *testing.T, port int, args ...string) string {
	t.Helper()
	out, err := exec.Command("dig", append([]string{"@127.0.0.1", "-p", fmt.Sprint(port), "+time=2", "+tries=1"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("dig %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// shortLines returns dig +short output as sorted lines.
func shortLines(out string) []string {
	ls := strings.Fields(strings.ReplaceAll(strings.TrimSpace(out), " ", "_"))
	for i := range ls {
		ls[i] = strings.ReplaceAll(ls[i], "_", " ")
	}
	slices.Sort(ls)
	return ls
}

// bulkTracker joins a raw tracker named bulk@127.0.0.1 to the agent at
// port, tracking n entries of service with ports 20000+i.
func bulkTracker(t *testing.T, port, n int, service string) *tracker.Tracker {
	t.Helper()
	tr, err := tracker.New(&tracker.Config{Name: "bulk@127.0.0.1", BindAddr: netip.MustParseAddrPort("127.0.0.1:0")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	for i := range n {
		if _, err := tr.Track(service, fmt.Sprint("k", i), map[string]string{"port": fmt.Sprint(20000 + i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tr.Join([]string{fmt.Sprintf("127.0.0.1:%d", port)}); err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestDNSCluster: a real cluster on loopback (two agents and a raw
// tracker with 200 entries) answers dig and Go's resolver through node1's
// --dns: SRV with ports and node targets, A, node names, NXDOMAIN,
// changes at once (TTL 0), and 200 SRV records truncated over UDP and
// complete over TCP.
func TestDNSCluster(t *testing.T) {
	t.Parallel()
	lab.NeedTools(t, "dig")
	p1, p2, dnsPort := freePort(t), freePort(t), freePort(t)
	hosts := hostfileOf(t, p1, p2)
	n1 := startAgent(t, "node1", p1, hosts, "--track", "web", "--meta", "port=8080",
		"--dns", fmt.Sprintf("127.0.0.1:%d", dnsPort))
	n2 := startAgent(t, "node2", p2, hosts, "--track", "web", "--meta", "port=8081", "--track", "db")
	bulkTracker(t, p1, 200, "big")
	waitFor(t, 10*time.Second, "node1 seeing node2's web and 200 big entries", func() bool {
		return len(n1.list(t, "web")) == 2 && len(n1.list(t, "big")) == 200
	})
	if want := fmt.Sprintf("DNS interface on 127.0.0.1:%d (UDP and TCP)", dnsPort); !strings.Contains(n1.stderr.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, n1.stderr)
	}

	wantSRV := []string{"1 1 8080 node1-at-127-0-0-1.node.sdjoin.", "1 1 8081 node2-at-127-0-0-1.node.sdjoin."}
	if got := shortLines(dig(t, dnsPort, "web.service.sdjoin", "SRV", "+short")); !slices.Equal(got, wantSRV) {
		t.Errorf("dig SRV +short = %q, want %q", got, wantSRV)
	}
	if got := shortLines(dig(t, dnsPort, "WEB.Service.SDJOIN", "A", "+short", "+tcp")); !slices.Equal(got, []string{"127.0.0.1"}) {
		t.Errorf("dig A +tcp = %q, want the one address", got)
	}
	for _, q := range []struct{ name, typ, status string }{
		{"nosuch.service.sdjoin", "A", "NXDOMAIN"},
		{"db.service.sdjoin", "SRV", "NOERROR"}, // no port: no SRV
		{"example.com", "A", "REFUSED"},
	} {
		out := dig(t, dnsPort, q.name, q.typ)
		if !strings.Contains(out, "status: "+q.status) || !strings.Contains(out, "ANSWER: 0,") {
			t.Errorf("dig %s %s: want %s with no answer:\n%s", q.name, q.typ, q.status, out)
		}
	}

	r := loopbackResolver(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(dnsPort)))
	ctx := context.Background()
	_, srvs, err := r.LookupSRV(ctx, "", "", "web.service.sdjoin")
	if want := []string{"8080 node1-at-127-0-0-1.node.sdjoin.", "8081 node2-at-127-0-0-1.node.sdjoin."}; err != nil || !slices.Equal(srvLines(srvs), want) {
		t.Errorf("LookupSRV = %q, %v; want %q", srvLines(srvs), err, want)
	}
	for _, name := range []string{"node2-at-127-0-0-1.node.sdjoin", "node2.node.sdjoin", "web.service.sdjoin"} {
		if addrs, err := r.LookupHost(ctx, name); err != nil || !slices.Equal(addrs, []string{"127.0.0.1"}) {
			t.Errorf("LookupHost(%s) = %q, %v; want 127.0.0.1", name, addrs, err)
		}
	}
	var dnsErr *net.DNSError
	if _, err := r.LookupHost(ctx, "nosuch.service.sdjoin"); !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
		t.Errorf("LookupHost(nosuch) = %v, want not found", err)
	}

	// 200 SRV records: truncated over UDP, complete over TCP.
	trunc := dig(t, dnsPort, "big.service.sdjoin", "SRV", "+notcp", "+ignore")
	if !strings.Contains(trunc, " tc") || strings.Contains(trunc, "ANSWER: 200,") {
		t.Errorf("dig +notcp +ignore: want TC and a cut answer:\n%s", trunc)
	}
	for _, mode := range []string{"+tcp", "+notcp"} { // +notcp retries over TCP on TC
		if got := shortLines(dig(t, dnsPort, "big.service.sdjoin", "SRV", "+short", mode)); len(got) != 200 {
			t.Errorf("dig %s: %d SRV records, want 200", mode, len(got))
		}
	}
	_, srvs, err = r.LookupSRV(ctx, "", "", "big.service.sdjoin")
	if err != nil || len(srvs) != 200 || !r.dialed("tcp") {
		t.Errorf("LookupSRV(big) = %d records, %v, TCP used %v; want 200 through TCP", len(srvs), err, r.dialed("tcp"))
	}

	// A new port and an untrack show at once (TTL 0, the cache follows).
	if code, _, errs := n2.run("track", "web", "--meta", "port=9090"); code != 0 {
		t.Fatalf("track with a new port: %d %s", code, errs)
	}
	waitFor(t, 5*time.Second, "node2's new port in the SRV answer", func() bool {
		return slices.Equal(shortLines(dig(t, dnsPort, "web.service.sdjoin", "SRV", "+short")), []string{wantSRV[0], "1 1 9090 node2-at-127-0-0-1.node.sdjoin."})
	})
	if code, _, errs := n2.run("untrack", "web"); code != 0 {
		t.Fatalf("untrack: %d %s", code, errs)
	}
	waitFor(t, 5*time.Second, "node2 gone from the SRV answer", func() bool {
		return slices.Equal(shortLines(dig(t, dnsPort, "web.service.sdjoin", "SRV", "+short")), wantSRV[:1])
	})
}

// TestDNSTCPConnectionsBounded: idle TCP connections hold at most
// conns slots; another waits until one frees, UDP is answered meanwhile,
// and the server closes connections idle past the read timeout.
func TestDNSTCPConnectionsBounded(t *testing.T) {
	t.Parallel()
	lim := dnsLimits{conns: 4, read: 30 * time.Second, idle: 30 * time.Second, maxRequests: 8}
	s, err := startDNS(netip.MustParseAddrPort("127.0.0.1:0"), sampleView().zone(0), lim)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	addr := s.Addr().String()
	var idle []net.Conn
	for range lim.conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		idle = append(idle, c)
	}
	q := ask("n1.node.sdjoin.", dns.TypeA, 0)
	if m, err := dns.Exchange(q, addr); err != nil || len(m.Answer) != 1 {
		t.Fatalf("UDP query with the TCP slots taken: %v, %v", m, err)
	}
	c, err := dns.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.WriteMsg(q); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if m, err := c.ReadMsg(); err == nil {
		t.Fatalf("TCP query over the bound of %d answered: %s", lim.conns, m)
	}
	idle[0].Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if m, err := c.ReadMsg(); err != nil || len(m.Answer) != 1 {
		t.Fatalf("TCP query after a slot freed: %v, %v", m, err)
	}
}

// TestDNSTCPIdleClosed: a TCP connection that sends nothing is closed
// after the read timeout, one that stops asking after the idle timeout.
func TestDNSTCPIdleClosed(t *testing.T) {
	t.Parallel()
	lim := dnsLimits{conns: 4, read: 200 * time.Millisecond, idle: 300 * time.Millisecond, maxRequests: 8}
	s, err := startDNS(netip.MustParseAddrPort("127.0.0.1:0"), sampleView().zone(0), lim)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	silent, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	asked, err := dns.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer asked.Close()
	if err := asked.WriteMsg(ask("n1.node.sdjoin.", dns.TypeA, 0)); err != nil {
		t.Fatal(err)
	}
	if m, err := asked.ReadMsg(); err != nil || len(m.Answer) != 1 {
		t.Fatalf("TCP query: %v, %v", m, err)
	}
	for name, c := range map[string]net.Conn{"silent": silent, "asked once": asked.Conn} {
		start := time.Now()
		c.SetReadDeadline(start.Add(10 * time.Second))
		_, err := c.Read(make([]byte, 1))
		var ne net.Error
		if err == nil || errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("%s connection: read %v after %v, want closed by the server", name, err, time.Since(start))
		}
	}
}

func TestDNSFlags(t *testing.T) {
	t.Parallel()
	hosts := hostfileOf(t)
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"bad_addr", []string{"--dns", "localhost:53"}, `bad --dns "localhost:53": want ADDR:PORT such as 127.0.0.1:8600`},
		{"no_port", []string{"--dns", "127.0.0.1"}, `bad --dns "127.0.0.1"`},
		{"fraction_ttl", []string{"--dns", "127.0.0.1:0", "--dns-ttl", "1500ms"}, "bad --dns-ttl 1.5s: want whole seconds from 0s to 24h0m0s"},
		{"negative_ttl", []string{"--dns", "127.0.0.1:0", "--dns-ttl", "-1s"}, "bad --dns-ttl -1s"},
		{"bad_domain", []string{"--dns", "127.0.0.1:0", "--dns-domain", "a..b"}, `bad --dns-domain "a..b": want a domain name`},
		{"root_domain", []string{"--dns", "127.0.0.1:0", "--dns-domain", "."}, `bad --dns-domain "."`},
		{"ttl_without_dns", []string{"--dns-ttl", "5s"}, "--dns-ttl needs --dns ADDR:PORT"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--name", "n", "--bind", "127.0.0.1:0", "--hostfile", hosts, "--socket", t.TempDir() + "/s.sock", "--no-discover"}, tt.args...)
			code, _, errs := runCLI(context.Background(), args...)
			if code != cliutil.ExitUsage || !strings.Contains(errs, tt.want) || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
				t.Errorf("exit %d, stderr %q; want %d and one line with %q", code, errs, cliutil.ExitUsage, tt.want)
			}
		})
	}
}

// TestDNSPortInUse: an agent whose --dns port is taken exits 1 with one
// line naming --dns and the fix.
func TestDNSPortInUse(t *testing.T) {
	t.Parallel()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	taken := pc.LocalAddr().String()
	args := []string{"--name", "n", "--bind", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "--hostfile", hostfileOf(t),
		"--socket", t.TempDir() + "/s.sock", "--no-discover", "--dns", taken}
	code, _, errs := runCLI(context.Background(), args...)
	want := "--dns " + taken + ": listen udp " + taken + ": bind: address already in use (is another DNS server using it? choose another ADDR:PORT)"
	if code != cliutil.ExitFailure || !strings.Contains(errs, want) {
		t.Errorf("exit %d, stderr %q; want %d with %q", code, errs, cliutil.ExitFailure, want)
	}
}
