package sdjoincmd

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/discover"
	"github.com/ipfinder-go/ipfinder/scan"
)

// Resolving the host names of the hostfile's peers, on the join loop
// before every join: NAME.local over mDNS on the interface of the
// advertised address, other names through the system resolver (DNS),
// every lookup bounded by resolveTimeout and all of them run at once (up
// to probeWorkers), so many names delay a join by about resolveTimeout.
const resolveTimeout = time.Second

// namedPeer is a peer given by host name: NAME:PORT.
type namedPeer struct {
	name string
	port uint16
}

// resolvePeers returns peers with every host name replaced by its IPv4
// addresses (self left out), in order, without duplicates. A name that
// does not resolve is left out and warned about once, until it resolves
// again. It runs on the join loop and returns early when ctx is done.
func (c *core) resolvePeers(ctx context.Context, peers []string, adv netip.Addr, self func(netip.AddrPort) bool) []string {
	var names []string
	for _, p := range peers {
		if n, ok := peerName(p); ok {
			names = append(names, n.name)
		}
	}
	if len(names) == 0 {
		return peers
	}
	addrs, why := c.resolveNames(ctx, names, adv)
	if ctx.Err() != nil {
		return nil
	}
	c.log.Debug("resolved", "names", len(names), "found", len(addrs))
	for _, n := range names {
		if len(addrs[n]) > 0 {
			delete(c.unresolved, n)
		} else if !c.unresolved[n] {
			c.unresolved[n] = true
			c.warn("warning: hostfile name %s does not resolve (%s); retrying every %s", n, why(n), c.opt.retry)
		}
	}
	return expandPeers(peers, addrs, self)
}

// expandPeers replaces the named peers by their addresses, leaving out
// self and duplicates.
func expandPeers(peers []string, addrs map[string][]netip.Addr, self func(netip.AddrPort) bool) []string {
	var out []string
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, p := range peers {
		n, ok := peerName(p)
		if !ok {
			add(p)
			continue
		}
		for _, a := range addrs[n.name] {
			ap := netip.AddrPortFrom(a, n.port)
			if self == nil || !self(ap) {
				add(ap.String())
			}
		}
	}
	return out
}

// peerName returns the host name and port of a peer HOST:PORT whose host
// is a name, not an address.
func peerName(peer string) (namedPeer, bool) {
	host, port, err := net.SplitHostPort(peer)
	if err != nil {
		return namedPeer{}, false
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return namedPeer{}, false
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return namedPeer{}, false
	}
	return namedPeer{name: strings.ToLower(strings.TrimSuffix(host, ".")), port: uint16(p)}, true
}

// isMDNSName reports whether name is resolved over mDNS (RFC 6762: .local).
func isMDNSName(name string) bool { return strings.HasSuffix(name, ".local") }

// resolveNames looks names up, the .local ones over mDNS on the interface
// of adv and the others through DNS, concurrently. It returns the IPv4
// addresses found by name and, for a name without any, why.
func (c *core) resolveNames(ctx context.Context, names []string, adv netip.Addr) (map[string][]netip.Addr, func(string) string) {
	var local, other []string
	for _, n := range names {
		if isMDNSName(n) {
			local = append(local, n)
		} else {
			other = append(other, n)
		}
	}
	var mdns map[string][]netip.Addr
	var mdnsWhy string
	var wg sync.WaitGroup
	if len(local) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mdns, mdnsWhy = c.lookupMDNS(ctx, local, adv)
		}()
	}
	found := lookupDNS(ctx, other)
	wg.Wait()
	for n, a := range mdns {
		found[n] = a
	}
	why := func(n string) string {
		if isMDNSName(n) {
			return mdnsWhy
		}
		return "no IPv4 address from DNS"
	}
	return found, why
}

// lookupMDNS resolves .local names over mDNS on the interface of adv;
// never on loopback, whose queries would not leave the machine. The
// string says where it asked, or why it could not.
func (c *core) lookupMDNS(ctx context.Context, names []string, adv netip.Addr) (map[string][]netip.Addr, string) {
	if !adv.IsValid() || adv.IsLoopback() {
		return nil, "no mDNS: the advertised address " + adv.String() + " is loopback; use --advertise with a LAN address, or list the address"
	}
	ifi, err := discover.InterfaceOf(adv)
	if err != nil {
		return nil, "no mDNS: " + err.Error()
	}
	found, err := scan.LookupMDNS(ctx, ifi, names, &scan.MDNSConfig{Timeout: resolveTimeout, Logger: c.log})
	if err != nil {
		c.log.Debug("mdns lookup", "err", err)
		return found, "mDNS on " + ifi.Name + ": " + err.Error()
	}
	return found, "no answer over mDNS on " + ifi.Name
}

// lookupDNS resolves names to IPv4 addresses through the system
// resolver, up to probeWorkers at once, each within resolveTimeout.
func lookupDNS(ctx context.Context, names []string) map[string][]netip.Addr {
	found := make(map[string][]netip.Addr, len(names))
	var mu sync.Mutex
	jobs := make(chan string)
	var wg sync.WaitGroup
	for range min(probeWorkers(), len(names)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range jobs {
				if addrs := lookupIPv4(ctx, n); len(addrs) > 0 {
					mu.Lock()
					found[n] = addrs
					mu.Unlock()
				}
			}
		}()
	}
	for _, n := range names {
		select {
		case jobs <- n:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	return found
}

// maxAddrsPerName bounds the addresses kept of one name.
const maxAddrsPerName = 8

// lookupIPv4 returns up to maxAddrsPerName IPv4 addresses of name from
// the system resolver, within resolveTimeout.
func lookupIPv4(ctx context.Context, name string) []netip.Addr {
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip4", name)
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, a := range addrs {
		if a = a.Unmap(); a.Is4() && len(out) < maxAddrsPerName {
			out = append(out, a)
		}
	}
	return out
}
