package ipfindercmd

import (
	"context"
	"errors"
	"net/netip"
	"sync"

	"github.com/ipfinder-go/ipfinder/internal/cliutil"
	"github.com/ipfinder-go/ipfinder/scan"
)

// resolvConf is where the system's DNS servers are, for reverse DNS.
const resolvConf = "/etc/resolv.conf"

// Name sources, recorded in JSON's "sources" and in this order of
// preference: see merge.
const (
	sourceSelf    = "self"
	sourceMDNS    = "mdns"
	sourceDNS     = "dns"
	sourceNetBIOS = "netbios"
)

// unicastNames is what reverse DNS and NetBIOS said about a link's hosts.
type unicastNames struct {
	rdns    []scan.RDNSHost
	netbios []scan.NetBIOSHost
}

// parseDNS reads --dns SERVER[:PORT]: an address, with an optional port
// (IPv6 with a port in brackets).
func parseDNS(s string) ([]netip.AddrPort, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return []netip.AddrPort{netip.AddrPortFrom(a.Unmap(), 53)}, nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil || ap.Port() == 0 {
		return nil, cliutil.Usagef("bad --dns %q: want a server address with an optional port, such as 192.168.1.1 or 192.168.1.1:5353", s)
	}
	return []netip.AddrPort{netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())}, nil
}

// dnsServers returns the servers to ask for reverse DNS: --dns, else those
// of /etc/resolv.conf; none (a -v note) when there are none or rDNS is off.
func dnsServers(o *options) []netip.AddrPort {
	if !o.rdns || len(o.dns) > 0 {
		return o.dns
	}
	servers, err := scan.ResolvConf(o.resolvConf)
	if err != nil {
		o.log.Debug("reverse DNS skipped: no DNS server (use --dns SERVER)", "err", err)
	}
	return servers
}

// lookupNames asks reverse DNS (when servers are given) and NetBIOS (when
// o.netbios) about addrs, both at once. Failures are -v notes: the hosts
// are worth writing without these names.
func lookupNames(ctx context.Context, addrs []netip.Addr, servers []netip.AddrPort, o *options) unicastNames {
	var (
		res unicastNames
		wg  sync.WaitGroup
	)
	if len(addrs) == 0 {
		return res
	}
	if len(servers) > 0 {
		wg.Go(func() {
			var err error
			res.rdns, err = scan.LookupRDNS(ctx, addrs, &scan.RDNSConfig{Servers: servers, Logger: o.scanLog})
			noteLookup(o, "reverse DNS", err)
		})
	}
	if o.netbios {
		wg.Go(func() {
			var err error
			res.netbios, err = scan.QueryNetBIOS(ctx, addrs, &scan.NetBIOSConfig{Logger: o.scanLog})
			noteLookup(o, "NetBIOS", err)
		})
	}
	wg.Wait()
	return res
}

// ipv6OnlyAddrs returns the global and unique local addresses of the
// IPv6 neighbours whose MAC ARP did not find: the IPv6-only hosts, whose
// names only reverse DNS of these can give (NetBIOS is IPv4 only).
func ipv6OnlyAddrs(arp []scan.ARPReply, ipv6 []scan.IPv6Neighbor) []netip.Addr {
	seen := make(map[string]bool, len(arp))
	for _, r := range arp {
		seen[string(r.MAC)] = true
	}
	var out []netip.Addr
	for _, n := range ipv6 {
		if !seen[string(n.MAC)] && n.Addr.IsGlobalUnicast() {
			out = append(out, n.Addr)
		}
	}
	return out
}

// lookupIPv6Names asks reverse DNS (ip6.arpa) about addrs when servers
// are given. A failure is a -v note.
func lookupIPv6Names(ctx context.Context, addrs []netip.Addr, servers []netip.AddrPort, o *options) []scan.RDNSHost {
	if len(addrs) == 0 || len(servers) == 0 {
		return nil
	}
	hosts, err := scan.LookupRDNS(ctx, addrs, &scan.RDNSConfig{Servers: servers, Logger: o.scanLog})
	noteLookup(o, "reverse DNS", err)
	return hosts
}

func noteLookup(o *options, what string, err error) {
	if err != nil && !errors.Is(err, context.Canceled) {
		o.log.Debug(what+" failed, hosts are listed without its names", "err", err)
	}
}
