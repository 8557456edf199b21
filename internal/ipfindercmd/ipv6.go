package ipfindercmd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"

	"github.com/ipfinder-go/ipfinder/scan"
)

// findIPv6 returns the IPv6 neighbours on ifi, without those --exclude
// leaves out, and this machine's IPv6 addresses there. Hosts have
// --timeout to answer. A failure is a warning, since the IPv4 hosts are
// still worth writing; a missing privilege, which fails the ARP sweep
// too, is not reported twice.
func findIPv6(ctx context.Context, ifi *net.Interface, p scan.Plan, o *options) ([]scan.IPv6Neighbor, []netip.Addr) {
	found, err := scan.FindIPv6(ctx, ifi, &scan.IPv6Config{Wait: o.timeout, Logger: o.scanLog})
	if err != nil {
		switch {
		case errors.Is(err, os.ErrPermission):
			o.log.Debug("IPv6 skipped", "err", err) // the ARP sweep reports the missing privilege
		case ctx.Err() == nil:
			o.log.Warn(fmt.Sprintf("IPv6 failed on %s, hosts are listed without IPv6 addresses (--no-ipv6 skips it): %v", p.Iface.Name, err))
		}
		return nil, nil
	}
	found = slices.DeleteFunc(found, func(n scan.IPv6Neighbor) bool { return excluded(o.exclude, n.Addr) })
	return found, ownIPv6(p.Iface)
}

// excluded reports whether a, without its zone, is in one of prefixes.
func excluded(prefixes []netip.Prefix, a netip.Addr) bool {
	a = a.WithZone("")
	return slices.ContainsFunc(prefixes, func(p netip.Prefix) bool { return p.Contains(a) })
}

// ownIPv6 returns the IPv6 unicast addresses of ifi, link-local ones with
// its zone.
func ownIPv6(ifi scan.Iface) []netip.Addr {
	var own []netip.Addr
	for _, a := range ifi.Addrs {
		ip := a.Addr()
		switch {
		case !ip.Is6() || ip.Is4In6():
		case ip.IsLinkLocalUnicast():
			own = append(own, ip.WithZone(ifi.Name))
		case ip.IsGlobalUnicast():
			own = append(own, ip)
		}
	}
	return own
}
