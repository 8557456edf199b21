package scan

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
)

// Iface is what Targets needs to know about a network interface: plain
// data, so that the choice of targets is a pure function.
type Iface struct {
	Name  string
	Index int
	MAC   net.HardwareAddr
	Flags net.Flags
	// Addrs holds the interface's addresses with their on-link prefix
	// length, such as 192.0.2.10/24.
	Addrs []netip.Prefix
}

// Plan is what to sweep on one interface.
type Plan struct {
	Iface Iface
	// Prefixes are the masked prefixes the targets come from.
	Prefixes []netip.Prefix
	// Targets are sorted and unique, without network, broadcast and own
	// addresses.
	Targets []netip.Addr
}

// maxPrefixBits is the largest prefix swept without force: a /16, 65534
// targets.
const maxPrefixBits = 16

// Interfaces returns the system's network interfaces as Ifaces.
func Interfaces() ([]Iface, error) {
	ifis, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("scan: listing interfaces: %w", err)
	}
	out := make([]Iface, 0, len(ifis))
	for _, ifi := range ifis {
		addrs, err := ifi.Addrs()
		if err != nil {
			return nil, fmt.Errorf("scan: addresses of %s: %w", ifi.Name, err)
		}
		it := Iface{Name: ifi.Name, Index: ifi.Index, MAC: ifi.HardwareAddr, Flags: ifi.Flags}
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				if p, ok := prefixFromIPNet(ipn); ok {
					it.Addrs = append(it.Addrs, p)
				}
			}
		}
		out = append(out, it)
	}
	return out, nil
}

// prefixFromIPNet converts an interface address, keeping its host part.
func prefixFromIPNet(ipn *net.IPNet) (netip.Prefix, bool) {
	a, ok := netip.AddrFromSlice(ipn.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, bits := ipn.Mask.Size()
	a = a.Unmap()
	if bits == 128 && a.Is4() {
		ones -= 96
	}
	if ones < 0 || ones > a.BitLen() {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, ones), true
}

// sweepable reports whether ARP works on the interface: up, Ethernet-like,
// broadcast-capable and not loopback.
func (i Iface) sweepable() bool {
	return i.Flags&net.FlagUp != 0 && i.Flags&net.FlagLoopback == 0 &&
		i.Flags&net.FlagBroadcast != 0 && len(i.MAC) == 6
}

// subnets returns the interface's IPv4 subnets.
func (i Iface) subnets() []netip.Prefix {
	var out []netip.Prefix
	for _, p := range i.Addrs {
		if p.Addr().Is4() && p.Bits() < 32 {
			out = append(out, p)
		}
	}
	return out
}

// ErrNoInterface is returned by Targets when no interface can be swept: a
// state of the machine (Wi-Fi off, cable out), not a mistake in the request.
var ErrNoInterface = errors.New("scan: no interface to sweep: need one that is up, not loopback, Ethernet-like, with an IPv4 subnet; bring one up or name one")

// Targets decides what to sweep: with no cidrs, every IPv4 subnet attached
// to an up, non-loopback, broadcast interface among ifaces; otherwise each
// of cidrs, on the interface it is on-link for. Network and broadcast
// addresses, the interfaces' own addresses and addresses inside exclude
// are left out. Prefixes larger than a /16 are refused unless force.
// Interfaces without targets get no Plan.
func Targets(ifaces []Iface, cidrs, exclude []netip.Prefix, force bool) ([]Plan, error) {
	own := map[netip.Addr]bool{}
	for _, it := range ifaces {
		for _, p := range it.Addrs {
			own[p.Addr().Unmap()] = true
		}
	}
	var plans []Plan
	planFor := func(it Iface) *Plan {
		for i := range plans {
			if plans[i].Iface.Name == it.Name {
				return &plans[i]
			}
		}
		plans = append(plans, Plan{Iface: it})
		return &plans[len(plans)-1]
	}
	swept := map[netip.Prefix]bool{}
	add := func(it Iface, subnet, p netip.Prefix) {
		p = p.Masked()
		if swept[p] {
			return
		}
		swept[p] = true
		pl := planFor(it)
		pl.Prefixes = append(pl.Prefixes, p)
		pl.Targets = appendHosts(pl.Targets, subnet.Masked(), p, own, exclude)
	}

	if len(cidrs) == 0 {
		for _, it := range ifaces {
			if !it.sweepable() {
				continue
			}
			for _, sub := range it.subnets() {
				if err := checkSize(sub, it.Name, force); err != nil {
					return nil, err
				}
				add(it, sub, sub)
			}
		}
		if len(plans) == 0 {
			return nil, ErrNoInterface
		}
	}
	for _, c := range cidrs {
		if !c.Addr().Is4() {
			return nil, fmt.Errorf("scan: prefix %v is not IPv4: ARP sweeps IPv4 subnets only", c)
		}
		if err := checkSize(c, "prefix", force); err != nil {
			return nil, err
		}
		it, sub, ok := onLink(ifaces, c)
		if !ok {
			return nil, fmt.Errorf("scan: prefix %v is not on-link (%s): ARP reaches only attached subnets; pick a prefix inside one", c, describeSubnets(ifaces))
		}
		add(it, sub, c)
	}
	for i := range plans {
		slices.SortFunc(plans[i].Targets, netip.Addr.Compare)
		plans[i].Targets = slices.Compact(plans[i].Targets)
	}
	plans = slices.DeleteFunc(plans, func(p Plan) bool { return len(p.Targets) == 0 })
	return plans, nil
}

func checkSize(p netip.Prefix, what string, force bool) error {
	if p.Bits() >= maxPrefixBits || force {
		return nil
	}
	return fmt.Errorf("scan: %s: %v holds %d addresses, more than a /%d: narrow it, or use --force to sweep it anyway",
		what, p.Masked(), uint64(1)<<(32-p.Bits()), maxPrefixBits)
}

// onLink finds the sweepable interface with a subnet that holds all of c.
func onLink(ifaces []Iface, c netip.Prefix) (Iface, netip.Prefix, bool) {
	for _, it := range ifaces {
		if !it.sweepable() {
			continue
		}
		for _, sub := range it.subnets() {
			if sub.Bits() <= c.Bits() && sub.Masked().Contains(c.Addr()) {
				return it, sub, true
			}
		}
	}
	return Iface{}, netip.Prefix{}, false
}

func describeSubnets(ifaces []Iface) string {
	var parts []string
	for _, it := range ifaces {
		if !it.sweepable() {
			continue
		}
		for _, sub := range it.subnets() {
			parts = append(parts, it.Name+" has "+sub.String())
		}
	}
	if len(parts) == 0 {
		return "no up Ethernet interface has an IPv4 subnet"
	}
	return strings.Join(parts, ", ")
}

// appendHosts appends the addresses of p, which lies inside subnet, that
// are not subnet's network or broadcast address, not own and not
// excluded.
func appendHosts(dst []netip.Addr, subnet, p netip.Prefix, own map[netip.Addr]bool, exclude []netip.Prefix) []netip.Addr {
	network, broadcast := subnet.Addr(), lastAddr(subnet)
	edges := subnet.Bits() <= 30 // a /31 has two hosts and no broadcast (RFC 3021)
	last := lastAddr(p)
	for a := p.Addr(); ; a = a.Next() {
		skip := own[a] || (edges && (a == network || a == broadcast)) ||
			slices.ContainsFunc(exclude, func(x netip.Prefix) bool { return x.Contains(a) })
		if !skip {
			dst = append(dst, a)
		}
		if a == last {
			return dst
		}
	}
}

// lastAddr returns the highest address of the masked prefix p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	if p.Bits() == 0 {
		host = ^uint32(0)
	}
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
