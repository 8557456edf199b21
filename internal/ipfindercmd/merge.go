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

// merge joins what ARP, mDNS, reverse DNS and NetBIOS found on every link
// into one host per address: MAC, vendor and conflicts from ARP, names and
// services from mDNS, names from DNS and NetBIOS (and the workgroup). A host
// that only mDNS saw is kept when its address was a sweep target. mDNS
// names also reach the hosts with one of the IPv6 addresses of the mDNS
// host's AAAA records, IPv6-only hosts included, and reverse DNS names the
// host with the address asked about, IPv4 or IPv6. With
// self, the machine's own addresses on the swept links are added, named
// hostname and marked Self.
//
// Names are kept once each, in this order, and Sources says where each
// came from (the first source that gave it): this machine's host name;
// mDNS, which the host itself answered just now and which is unique on
// the link; reverse DNS, the router's idea, which may be stale after an
// address changed hands but is fully qualified and resolvable by every
// client of that DNS server; NetBIOS last, a flat 15-character name folded
// to lower case.
//
// A name or service type that no hostfile can hold (hostfile.CheckHostName),
// such as "evil.1" announced by a responder on the LAN, is left out and
// reported in dropped; its host stays.
//
// IPv6 addresses join the host with the same MAC (every host with it);
// those of a MAC no host has make a host of their own, an IPv6-only one,
// whose Addr is its first global or unique local address, else its first
// link-local one. With self, this machine's IPv6 addresses join its hosts.
func merge(links []linkResult, self bool, hostname string, vendor func(net.HardwareAddr) string) (hosts []hostfile.Host, dropped []error) {
	m := &merger{byAddr: make(map[netip.Addr]*hostfile.Host)}
	for _, l := range links {
		for _, r := range l.arp {
			h := m.get(r.Addr)
			h.MAC = r.MAC
			h.Conflict = r.Conflict
			h.Vendor = vendor(r.MAC)
		}
		if self {
			m.addSelf(l.plan, hostname, vendor)
		}
		m.addIPv6(l, self, vendor)
		by6 := m.ipv6Index()
		for _, mh := range l.mdns {
			for _, h := range m.mdnsHosts(l.plan, mh, by6) {
				m.addNames(h, sourceMDNS, "mDNS name", mh.Names...)
				h.Services = appendUnique(h.Services, m.keep(h.Addr, "mDNS service type", mh.Services)...)
			}
		}
		for _, r := range l.names.rdns {
			h, ok := m.byAddr[r.Addr]
			if !ok {
				h, ok = by6[r.Addr]
			}
			if ok {
				m.addNames(h, sourceDNS, "reverse DNS name", r.Names...)
			}
		}
		for _, n := range l.names.netbios {
			if h, ok := m.byAddr[n.Addr]; ok {
				m.addNames(h, sourceNetBIOS, "NetBIOS name", n.Name)
				h.Workgroup = n.Workgroup
			}
		}
	}
	hosts = make([]hostfile.Host, 0, len(m.byAddr))
	for _, h := range m.byAddr {
		hosts = append(hosts, *h)
	}
	slices.SortFunc(hosts, func(a, b hostfile.Host) int { return a.Addr.Compare(b.Addr) })
	return hosts, m.dropped
}

// mdnsHosts returns the hosts mh names: the one at its IPv4 address (made
// when that address is a target of p), and those with one of its IPv6
// addresses, found by IPv6 neighbour discovery.
func (m *merger) mdnsHosts(p scan.Plan, mh scan.MDNSHost, by6 map[netip.Addr]*hostfile.Host) []*hostfile.Host {
	var out []*hostfile.Host
	if mh.Addr.Is4() {
		_, known := m.byAddr[mh.Addr]
		if _, target := slices.BinarySearchFunc(p.Targets, mh.Addr, netip.Addr.Compare); known || target {
			out = append(out, m.get(mh.Addr))
		}
	}
	for _, a := range mh.IPv6 {
		if h, ok := by6[a]; ok && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

// ipv6Index maps every IPv6 address of a host to it.
func (m *merger) ipv6Index() map[netip.Addr]*hostfile.Host {
	by6 := make(map[netip.Addr]*hostfile.Host)
	for _, h := range m.byAddr {
		for _, a := range h.IPv6 {
			by6[a] = h
		}
	}
	return by6
}

// merger is the state of one merge.
type merger struct {
	byAddr  map[netip.Addr]*hostfile.Host
	dropped []error
}

func (m *merger) get(a netip.Addr) *hostfile.Host {
	h, ok := m.byAddr[a]
	if !ok {
		h = &hostfile.Host{Addr: a}
		m.byAddr[a] = h
	}
	return h
}

// keep returns the names that a hostfile can hold, and notes the others.
func (m *merger) keep(a netip.Addr, what string, names []string) []string {
	var ok []string
	for _, n := range names {
		if err := hostfile.CheckHostName(n); err != nil {
			m.dropped = append(m.dropped, fmt.Errorf("%v: dropped %s: %w", a, what, err))
			continue
		}
		ok = append(ok, n)
	}
	return ok
}

// addNames appends to h the names it does not have yet, from source.
func (m *merger) addNames(h *hostfile.Host, source, what string, names ...string) {
	for _, n := range m.keep(h.Addr, what, names) {
		if slices.Contains(h.Names, n) {
			continue
		}
		h.Names = append(h.Names, n)
		if h.Sources == nil {
			h.Sources = make(map[string]string)
		}
		h.Sources[n] = source
	}
}

// addSelf adds this machine's addresses on the plan's link.
func (m *merger) addSelf(p scan.Plan, hostname string, vendor func(net.HardwareAddr) string) {
	for _, a := range p.Iface.Addrs {
		if !a.Addr().Is4() || !inPlan(p, a.Addr()) {
			continue
		}
		h := m.get(a.Addr())
		h.Self = true
		h.MAC = p.Iface.MAC
		h.Vendor = vendor(h.MAC)
		if hostname != "" {
			m.addNames(h, sourceSelf, "this machine's host name", hostname)
		}
	}
}

// addIPv6 adds the IPv6 addresses found on link l to the hosts with their
// MAC, and makes IPv6-only hosts of the others.
func (m *merger) addIPv6(l linkResult, self bool, vendor func(net.HardwareAddr) string) {
	byMAC := make(map[string][]netip.Addr)
	var macs []net.HardwareAddr
	for _, n := range l.ipv6 {
		k := string(n.MAC)
		if byMAC[k] == nil {
			macs = append(macs, n.MAC)
		}
		byMAC[k] = append(byMAC[k], n.Addr)
	}
	if self && len(l.self6) > 0 {
		byMAC[string(l.plan.Iface.MAC)] = l.self6
	}
	matched := make(map[string]bool)
	for _, h := range m.linkHosts(l, self) {
		if addrs, ok := byMAC[string(h.MAC)]; ok && len(h.MAC) > 0 {
			h.IPv6 = append(h.IPv6, addrs...)
			matched[string(h.MAC)] = true
		}
	}
	for _, mac := range macs {
		if matched[string(mac)] {
			continue
		}
		addrs := byMAC[string(mac)]
		h := m.get(preferredIPv6(addrs))
		h.MAC, h.Vendor, h.IPv6 = mac, vendor(mac), addrs
	}
}

// linkHosts returns the hosts ARP found on link l, and with self this
// machine's, each once.
func (m *merger) linkHosts(l linkResult, self bool) []*hostfile.Host {
	var addrs []netip.Addr
	for _, r := range l.arp {
		addrs = append(addrs, r.Addr)
	}
	if self {
		for _, a := range l.plan.Iface.Addrs {
			if a.Addr().Is4() && inPlan(l.plan, a.Addr()) {
				addrs = append(addrs, a.Addr())
			}
		}
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	var out []*hostfile.Host
	for _, a := range slices.Compact(addrs) {
		if h, ok := m.byAddr[a]; ok {
			out = append(out, h)
		}
	}
	return out
}

// preferredIPv6 returns the address an IPv6-only host is listed by: its
// first global or unique local address, else its first address.
func preferredIPv6(addrs []netip.Addr) netip.Addr {
	if i := slices.IndexFunc(addrs, netip.Addr.IsGlobalUnicast); i >= 0 {
		return addrs[i]
	}
	return addrs[0]
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
