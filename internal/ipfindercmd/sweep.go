package ipfindercmd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/ipfinder-go/ipfinder/hostfile"
	"github.com/ipfinder-go/ipfinder/internal/cliutil"
	"github.com/ipfinder-go/ipfinder/scan"
)

// linkResult is what the sweep of one interface found.
type linkResult struct {
	plan  scan.Plan
	arp   []scan.ARPReply
	mdns  []scan.MDNSHost
	names unicastNames // reverse DNS and NetBIOS
	ipv6  []scan.IPv6Neighbor
	self6 []netip.Addr // this machine's IPv6 addresses on the link, when IPv6 was swept
}

// sweep runs ARP, mDNS, reverse DNS and NetBIOS on every chosen interface
// at once and returns the hosts found, this machine included unless o.self
// is false.
func sweep(ctx context.Context, o *options) ([]hostfile.Host, error) {
	ifaces, err := scan.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	ifaces, err = chooseInterfaces(ifaces, o.ifaces)
	if err != nil {
		return nil, err
	}
	plans, err := scan.Targets(ifaces, o.cidrs, o.exclude, o.force)
	switch {
	case errors.Is(err, scan.ErrNoInterface):
		return nil, err // the machine's state, not the request: exit 1
	case err != nil:
		return nil, cliutil.Usagef("%v", err)
	case len(plans) == 0:
		return nil, cliutil.Usagef("nothing to sweep: every address is excluded")
	}
	vendors, err := scan.DefaultVendors()
	if err != nil {
		o.log.Debug("MAC vendors unknown: install arp-scan or ieee-data", "err", err)
	}

	servers := dnsServers(o)
	prog := newProgress(o.stderr, plans)
	defer prog.stop()
	results := make([]linkResult, len(plans))
	g, gctx := errgroup.WithContext(ctx)
	for i, p := range plans {
		g.Go(func() error {
			r, err := sweepLink(gctx, p, o, servers, prog.link(i))
			results[i] = r
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	prog.stop()

	hostname, _ := os.Hostname()
	lookup := func(net.HardwareAddr) string { return "" }
	if vendors != nil {
		lookup = vendors.Lookup
	}
	hosts, dropped := merge(results, o.self, hostname, lookup)
	noteDropped(o, dropped)
	for _, h := range hosts {
		if len(h.Conflict) > 0 {
			o.log.Warn(fmt.Sprintf("IP conflict: several MACs answer for %s: %s", h.Addr, macList(h.MAC, h.Conflict)))
		}
	}
	switch {
	case len(o.names) > 0:
		hosts, dropped = withNodes(hosts, func(int) []string { return o.names })
		noteDropped(o, dropped)
	case o.epmd:
		hosts, err = withEPMDNodes(ctx, hosts, o)
	}
	return hosts, err
}

// chooseInterfaces keeps the interfaces named in names, all of them when
// names is empty.
func chooseInterfaces(all []scan.Iface, names []string) ([]scan.Iface, error) {
	if len(names) == 0 {
		return all, nil
	}
	var out []scan.Iface
	for _, n := range names {
		i := slices.IndexFunc(all, func(f scan.Iface) bool { return f.Name == n })
		if i < 0 {
			var known []string
			for _, f := range all {
				known = append(known, f.Name)
			}
			return nil, cliutil.Usagef("unknown interface %q: choose one of %s", n, strings.Join(known, ", "))
		}
		out = append(out, all[i])
	}
	return out, nil
}

// sweepLink sweeps one interface: ARP, and mDNS at the same time, which
// reverse-resolves every address ARP found and every IPv6 neighbour's;
// once ARP is done, reverse DNS (asking servers) and NetBIOS name the
// addresses it found, and reverse DNS the IPv6-only hosts once IPv6
// neighbour discovery is done, all while mDNS finishes. Without ARP they name the hosts
// mDNS found, after it. IPv6 neighbours (findIPv6) are looked for
// alongside.
func sweepLink(ctx context.Context, p scan.Plan, o *options, servers []netip.AddrPort, progress func(done, total int)) (linkResult, error) {
	res := linkResult{plan: p}
	ifi, err := net.InterfaceByIndex(p.Iface.Index)
	if err != nil {
		return res, fmt.Errorf("interface %s: %w", p.Iface.Name, err)
	}
	var (
		wg      sync.WaitGroup
		mdnsErr error
		found   chan netip.Addr
		done    = make(chan struct{})
		arpCfg  *scan.ARPConfig
		ipv6Got = make(chan struct{}) // closed once res.ipv6 is set
	)
	if o.arp {
		arpCfg = arpConfig(p, o, progress)
	}
	if o.mdns {
		if o.arp {
			found = make(chan netip.Addr, 256)
		}
		// The browse must outlast the ARP sweep, which feeds it the
		// addresses to reverse-resolve; it ends early once they are fed
		// and the link is quiet.
		cfg := &scan.MDNSConfig{Logger: o.scanLog, Timeout: time.Second}
		if o.arp {
			cfg.Timeout = mdnsWindow(len(p.Targets), arpCfg.Rate, o)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done)
			res.mdns, mdnsErr = scan.BrowseMDNS(ctx, ifi, found, cfg)
		}()
	} else {
		close(done)
	}
	if o.ipv6 {
		wg.Go(func() {
			defer close(ipv6Got)
			res.ipv6, res.self6 = findIPv6(ctx, ifi, p, o)
		})
	} else {
		close(ipv6Got)
	}
	var (
		arpErr error
		v6     []scan.RDNSHost // reverse DNS of the IPv6-only hosts
	)
	if o.arp {
		res.arp, arpErr = scan.SweepARP(ctx, ifi, p.Targets, arpCfg)
		addrs := arpAddrs(res.arp)
		wg.Go(func() { res.names = lookupNames(ctx, addrs, servers, o) })
		wg.Go(func() {
			<-ipv6Got
			v6 = lookupIPv6Names(ctx, ipv6OnlyAddrs(res.arp, res.ipv6), servers, o)
		})
		if found != nil {
			feed(found, done, res.arp, ipv6Got, &res.ipv6)
		}
	}
	wg.Wait()
	if !o.arp {
		res.names = lookupNames(ctx, mdnsTargets(p, res.mdns), servers, o)
	}
	res.names.rdns = append(res.names.rdns, v6...)
	if arpErr != nil {
		return res, fmt.Errorf("ARP sweep on %s: %w", p.Iface.Name, arpErr)
	}
	if mdnsErr != nil && ctx.Err() == nil {
		if !o.arp {
			return res, fmt.Errorf("mDNS on %s: %w", p.Iface.Name, mdnsErr)
		}
		// Hosts found by ARP are worth writing without their names.
		o.log.Warn(fmt.Sprintf("mDNS failed on %s, hosts are listed without names and services: %v", p.Iface.Name, mdnsErr))
	}
	return res, ctx.Err()
}

// arpAddrs returns the addresses of replies.
func arpAddrs(replies []scan.ARPReply) []netip.Addr {
	addrs := make([]netip.Addr, len(replies))
	for i, r := range replies {
		addrs[i] = r.Addr
	}
	return addrs
}

// mdnsTargets returns the addresses of the hosts mDNS found that are
// targets of p.
func mdnsTargets(p scan.Plan, hosts []scan.MDNSHost) []netip.Addr {
	var out []netip.Addr
	for _, h := range hosts {
		if _, ok := slices.BinarySearchFunc(p.Targets, h.Addr, netip.Addr.Compare); ok {
			out = append(out, h.Addr)
		}
	}
	return out
}

// mdnsWindow bounds the mDNS browse beside an ARP sweep of n targets at
// rate, which ends it earlier by closing its input. A sweep whose sends
// cost more than its rate allows runs far past arpDuration (a /16 in the
// lab, where every host takes every broadcast on the sender's CPU, sent
// at a fifth of its rate on a loaded machine), and a browse that ended
// first would reverse-resolve none of the hosts found last: the window is
// ten times arpDuration, plus a second for the last lookups.
func mdnsWindow(n, rate int, o *options) time.Duration {
	return time.Second + 10*arpDuration(n, rate, o)
}

// arpDuration is an upper bound of how long an ARP sweep of n targets
// takes at rate with o's retries and timeout, when its sends keep up with
// the rate.
func arpDuration(n, rate int, o *options) time.Duration {
	sends := time.Duration(n*(o.retries+1)) * time.Second / time.Duration(rate)
	return sends + 2*o.timeout
}

// feed hands the addresses ARP found, then those of the IPv6 neighbours
// once *ipv6 is set (ipv6Got closed), to the mDNS browser for reverse
// lookups, and closes found so that the browser can finish.
func feed(found chan<- netip.Addr, done <-chan struct{}, replies []scan.ARPReply, ipv6Got <-chan struct{}, ipv6 *[]scan.IPv6Neighbor) {
	defer close(found)
	send := func(a netip.Addr) bool {
		select {
		case found <- a:
			return true
		case <-done:
			return false
		}
	}
	for _, r := range replies {
		if !send(r.Addr) {
			return
		}
	}
	select {
	case <-ipv6Got:
	case <-done:
		return
	}
	for _, n := range *ipv6 {
		if !send(n.Addr) {
			return
		}
	}
}

// withEPMDNodes asks every host's epmd for its Erlang nodes and returns one
// host per node; hosts without epmd drop out.
func withEPMDNodes(ctx context.Context, hosts []hostfile.Host, o *options) ([]hostfile.Host, error) {
	names := make([][]string, len(hosts))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(64)
	for i, h := range hosts {
		g.Go(func() error {
			n, err := scan.EPMDNames(gctx, h.Addr)
			if err != nil {
				o.log.Debug("epmd", "addr", h.Addr, "err", err)
			}
			names[i] = n
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	hosts, dropped := withNodes(hosts, func(i int) []string { return names[i] })
	noteDropped(o, dropped)
	return hosts, ctx.Err()
}

// noteDropped notes with -v the names from the network that were left out.
func noteDropped(o *options, dropped []error) {
	for _, err := range dropped {
		o.log.Debug("name left out: no hostfile can hold it", "err", err)
	}
}

func macList(first net.HardwareAddr, rest []net.HardwareAddr) string {
	s := []string{first.String()}
	for _, m := range rest {
		s = append(s, m.String())
	}
	return strings.Join(s, " ")
}
