package ipfindercmd

import (
	"fmt"
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
//
// A name or service type that no hostfile can hold (hostfile.CheckHostName),
// such as "evil.1" announced by a responder on the LAN, is left out and
// reported in dropped; its host stays.
func merge(links []linkResult, self bool, hostname string, vendor func(net.HardwareAddr) string) (hosts []hostfile.Host, dropped []error) {
	keep := func(a netip.Addr, what string, names []string) []string {
		var ok []string
		for _, n := range names {
			if err := hostfile.CheckHostName(n); err != nil {
				dropped = append(dropped, fmt.Errorf("%v: dropped %s: %w", a, what, err))
				continue
			}
			ok = append(ok, n)
		}
		return ok
	}
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
					h.Names = appendUnique(h.Names, keep(h.Addr, "this machine's host name", []string{hostname})...)
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
			h.Names = appendUnique(h.Names, keep(m.Addr, "mDNS name", m.Names)...)
			h.Services = appendUnique(h.Services, keep(m.Addr, "mDNS service type", m.Services)...)
		}
	}
	hosts = make([]hostfile.Host, 0, len(byAddr))
	for _, h := range byAddr {
		hosts = append(hosts, *h)
	}
	slices.SortFunc(hosts, func(a, b hostfile.Host) int { return a.Addr.Compare(b.Addr) })
	return hosts, dropped
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
// drop out. A node name that no hostfile can hold (hostfile.CheckNode),
// such as one an epmd on the LAN reports, is left out and reported in
// dropped.
func withNodes(hosts []hostfile.Host, nodes func(i int) []string) (out []hostfile.Host, dropped []error) {
	for i, h := range hosts {
		for _, n := range nodes(i) {
			nh := h
			nh.Node = n + "@" + h.Addr.String()
			if err := hostfile.CheckNode(nh.Node); err != nil {
				dropped = append(dropped, fmt.Errorf("%v: dropped Erlang node: %w", h.Addr, err))
				continue
			}
			out = append(out, nh)
		}
	}
	return out, dropped
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
