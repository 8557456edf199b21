//go:build linux

package sdjoincmd

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// startForwarder runs dnsmasq on h's 127.0.0.1:53 as the README shows
// it: no upstream server but the agent's DNS interface for the sdjoin
// zone (server=/sdjoin/127.0.0.1#PORT). It is killed with the lab.
func startForwarder(t *testing.T, h *lab.Host, port int) *syncBuffer {
	t.Helper()
	log := &syncBuffer{}
	cmd := h.Command(context.Background(), "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null",
		"--no-resolv", "--no-hosts", "--bind-interfaces", "--listen-address=127.0.0.1", "--port=53",
		fmt.Sprintf("--server=/sdjoin/127.0.0.1#%d", port), "--user=root",
		"--pid-file="+filepath.Join(t.TempDir(), "dnsmasq.pid"), "--log-queries", "--log-facility=-")
	cmd.Stdout, cmd.Stderr = log, log
	if err := h.Start(cmd); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("dnsmasq log:\n%s", log)
		}
	})
	return log
}

// labDig runs dig in h against dnsmasq on 127.0.0.1:53 and returns its
// +short lines, sorted.
func labDig(t *testing.T, h *lab.Host, args ...string) []string {
	t.Helper()
	out, err := h.Command(context.Background(), "dig", append([]string{"@127.0.0.1", "+time=2", "+tries=1", "+short"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("dig %s in %s: %v\n%s", strings.Join(args, " "), h, err, out)
	}
	return shortLines(string(out))
}

// TestLabDNSThroughDnsmasq: two agents on two lab hosts; dnsmasq on
// host 0 forwards the sdjoin zone to host 0's agent (--dns
// 127.0.0.1:8600). dig and Go's resolver, asking dnsmasq, resolve
// web.service.sdjoin (SRV and A) and a node name, and see an untrack at
// once (TTL 0: dnsmasq caches nothing).
func TestLabDNSThroughDnsmasq(t *testing.T) {
	t.Parallel()
	lab.NeedTools(t, "dnsmasq", "dig")
	l := lab.New(t, lab.Config{Hosts: 2})
	h := l.Hosts
	hosts := writeHostfile(t, []string{h[0].Addr.String(), h[1].Addr.String()})
	startLabAgent(t, h[0], "a", hosts, "--track", "web", "--meta", "port=8080", "--dns", "127.0.0.1:8600")
	b := startLabAgent(t, h[1], "b", hosts, "--track", "web", "--meta", "port=8081")
	startForwarder(t, h[0], 8600)

	label := func(name string, a netip.Addr) string {
		return name + "-at-" + strings.ReplaceAll(a.String(), ".", "-") + ".node.sdjoin."
	}
	want := []string{"1 1 8080 " + label("a", h[0].Addr), "1 1 8081 " + label("b", h[1].Addr)}
	var got []string
	waitFor(t, 15*time.Second, "both providers through dnsmasq", func() bool {
		got = labDig(t, h[0], "web.service.sdjoin", "SRV")
		return slices.Equal(got, want)
	})
	if got := labDig(t, h[0], "web.service.sdjoin", "A"); !slices.Equal(got, []string{h[0].Addr.String(), h[1].Addr.String()}) {
		t.Errorf("dig A = %q, want both hosts' addresses", got)
	}

	r := newGoResolver(func(ctx context.Context, network string) (c net.Conn, err error) {
		err = h[0].Do(func() error { // the socket is opened in host 0's namespace
			var d net.Dialer
			c, err = d.DialContext(ctx, network, "127.0.0.1:53")
			return err
		})
		return c, err
	})
	ctx := context.Background()
	_, srvs, err := r.LookupSRV(ctx, "", "", "web.service.sdjoin")
	if want := []string{"8080 " + label("a", h[0].Addr), "8081 " + label("b", h[1].Addr)}; err != nil || !slices.Equal(srvLines(srvs), want) {
		t.Errorf("Go LookupSRV through dnsmasq = %q, %v; want %q", srvLines(srvs), err, want)
	}
	// RFC 2782, as Go's and every SRV client's LookupSRV("web", "tcp", ...)
	// asks: _web._tcp.service.sdjoin.
	if got := labDig(t, h[0], "_web._tcp.service.sdjoin", "SRV"); !slices.Equal(got, want) {
		t.Errorf("dig _web._tcp.service.sdjoin SRV = %q, want %q", got, want)
	}
	cname, srvs, err := r.LookupSRV(ctx, "web", "tcp", "service.sdjoin")
	if want := []string{"8080 " + label("a", h[0].Addr), "8081 " + label("b", h[1].Addr)}; err != nil || !slices.Equal(srvLines(srvs), want) || cname != "_web._tcp.service.sdjoin." {
		t.Errorf("Go LookupSRV(web, tcp, service.sdjoin) through dnsmasq = %q, %q, %v; want %q", cname, srvLines(srvs), err, want)
	}
	addrs, err := r.LookupHost(ctx, "web.service.sdjoin")
	slices.Sort(addrs)
	if want := []string{h[0].Addr.String(), h[1].Addr.String()}; err != nil || !slices.Equal(addrs, want) {
		t.Errorf("Go LookupHost(web.service.sdjoin) = %q, %v; want %q", addrs, err, want)
	}
	if addrs, err := r.LookupHost(ctx, "b.node.sdjoin"); err != nil || !slices.Equal(addrs, []string{h[1].Addr.String()}) {
		t.Errorf("Go LookupHost(b.node.sdjoin) = %q, %v; want %s", addrs, err, h[1].Addr)
	}

	untrack := h[1].Command(ctx, buildBinary(t), "untrack", "web", "--socket", b.sock)
	if out, err := untrack.CombinedOutput(); err != nil {
		t.Fatalf("untrack on b: %v\n%s", err, out)
	}
	waitFor(t, 5*time.Second, "b gone through dnsmasq", func() bool {
		return slices.Equal(labDig(t, h[0], "web.service.sdjoin", "SRV"), want[:1])
	})
}

// TestLabDNSUDPWildcardRepliesFromAddressAsked: a server on a wildcard
// address (0.0.0.0, and [::] for IPv4 too) answers a query sent to one of
// the host's addresses from that address, though the reply's route would
// pick another (the client is on 127.0.0.1, the query to the LAN
// address): a connected client takes no reply from another source.
func TestLabDNSUDPWildcardRepliesFromAddressAsked(t *testing.T) {
	t.Parallel()
	h := lab.New(t, lab.Config{Hosts: 1}).Hosts[0]
	for _, tt := range []struct{ name, network, bind string }{
		{"ipv4_wildcard", "udp4", "0.0.0.0:0"},
		{"dual_stack_wildcard", "udp", "[::]:0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var s *udpServer
			var c *net.UDPConn
			err := h.Do(func() error { // both sockets in the host's namespace
				pc, err := net.ListenUDP(tt.network, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(tt.bind)))
				if err != nil {
					return err
				}
				if s, err = serveUDP(pc, sampleView().zone(0), 2); err != nil {
					pc.Close()
					return err
				}
				local := net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0"))
				c, err = net.DialUDP("udp4", local, net.UDPAddrFromAddrPort(netip.AddrPortFrom(h.Addr, s.addr().Port())))
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(s.Close)
			defer c.Close()
			dc := &dns.Conn{Conn: c}
			dc.SetDeadline(time.Now().Add(3 * time.Second))
			q := ask("n1.node.sdjoin.", dns.TypeA, 0)
			if err := dc.WriteMsg(q); err != nil {
				t.Fatal(err)
			}
			if m, err := dc.ReadMsg(); err != nil || m.Id != q.Id || len(m.Answer) != 1 {
				t.Fatalf("query to %s from 127.0.0.1: %v, %v; want the answer from the address asked", c.RemoteAddr(), m, err)
			}
		})
	}
}
