package ipfindercmd

import (
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/ipfinder-go/ipfinder/hostfile"
	"github.com/ipfinder-go/ipfinder/scan"
)

// merge joins what ARP and mDNS found on every link into one host per
// address: MAC, vendor and conflicts from ARP, names and services from mDNS.
// A host that only mDNS saw is kept when its address was a sweep target.
// With self, the machine's own addresses on the swept links are added, named
// hostname and marked Self.
func merge(links []linkResult, self bool, hostname string, vendor func(net.HardwareAddr) string) []hostfile.Host {
	byAddr := make(map[netip.Addr]*hostfile.Host)
	get := func(a netip.Addr) *hostfile.Host {
		h, ok := byAddr[a]
		if !ok {
			h = &hostfile.Host{Addr: a}
			byAddr[a] = h
		}
		return h
	}
	for _, l := range links {
		for _, r := range l.arp {
			h := get(r.Addr)
			h.MAC = r.MAC
			h.Conflict = r.Conflict
			h.Vendor = vendor(r.MAC)
		}
		if self {
			for _, p := range l.plan.Iface.Addrs {
				if !p.Addr().Is4() || !inPlan(l.plan, p.Addr()) {
					continue
				}
				h := get(p.Addr())
				h.Self = true
				h.MAC = l.plan.Iface.MAC
				h.Vendor = vendor(h.MAC)
				if hostname != "" {
					h.Names = appendUnique(h.Names, hostname)
				}
			}
		}
		for _, m := range l.mdns {
			h, ok := byAddr[m.Addr]
			if _, target := slices.BinarySearchFunc(l.plan.Targets, m.Addr, netip.Addr.Compare); !ok && !target {
				continue // not ours to report: outside --cidr or excluded
			}
			if !ok {
				h = get(m.Addr)
			}
			h.Names = appendUnique(h.Names, m.Names...)
			h.Services = appendUnique(h.Services, m.Services...)
		}
	}
	hosts := make([]hostfile.Host, 0, len(byAddr))
	for _, h := range byAddr {
		hosts = append(hosts, *h)
	}
	slices.SortFunc(hosts, func(a, b hostfile.Host) int { return a.Addr.Compare(b.Addr) })
	return hosts
}

// inPlan reports whether a is inside one of the plan's prefixes.
func inPlan(p scan.Plan, a netip.Addr) bool {
	return slices.ContainsFunc(p.Prefixes, func(q netip.Prefix) bool { return q.Contains(a) })
}

func appendUnique(list []string, add ...string) []string {
	for _, s := range add {
		if !slices.Contains(list, s) {
			list = append(list, s)
		}
	}
	return list
}

// withNodes replaces each host by one host per Erlang node name that
// nodes(i) returns for hosts[i], as name@address; hosts without node names
// drop out.
func withNodes(hosts []hostfile.Host, nodes func(i int) []string) []hostfile.Host {
	var out []hostfile.Host
	for i, h := range hosts {
		for _, n := range nodes(i) {
			nh := h
			nh.Node = n + "@" + h.Addr.String()
			out = append(out, nh)
		}
	}
	return out
}

// withGeneratedNames gives every host without a name one made from its
// address, host-192-0-2-10 (IPv6: every group, host-2001-0db8-...), so that the hosts(5)
// format, which needs a name, lists every host found.
func withGeneratedNames(hosts []hostfile.Host) []hostfile.Host {
	out := slices.Clone(hosts)
	for i, h := range out {
		if len(h.Names) == 0 && h.Addr.IsValid() {
			out[i].Names = []string{generatedName(h.Addr)}
		}
	}
	return out
}

func generatedName(a netip.Addr) string {
	s := a.WithZone("").StringExpanded()
	if a.Is4() {
		s = a.String()
	}
	return "host-" + strings.NewReplacer(".", "-", ":", "-").Replace(s)
}

// others counts the hosts that are not this machine.
func others(hosts []hostfile.Host) int {
	n := 0
	for _, h := range hosts {
		if !h.Self {
			n++
		}
	}
	return n
}
