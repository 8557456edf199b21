package rename

import (
	"net/netip"
	"slices"
)

// addrFlags are the kernel's address flags (IFA_F_* in linux/if_addr.h), with the
// same values, so a netlink address's flags convert by a plain cast.
type addrFlags uint32

// The address flags that chooseAddr looks at.
const (
	// flagSecondary marks a secondary IPv4 address: one more address in a
	// subnet that the interface already has a primary address in.
	flagSecondary addrFlags = 0x01
	// flagTemporary marks an IPv6 privacy address (RFC 8981). The kernel
	// uses the same bit as flagSecondary.
	flagTemporary addrFlags = 0x01
	// flagDADFailed marks an IPv6 address whose duplicate address
	// detection found another owner.
	flagDADFailed addrFlags = 0x08
	// flagDeprecated marks an address whose preferred lifetime ran out.
	flagDeprecated addrFlags = 0x20
	// flagTentative marks an IPv6 address still in duplicate address
	// detection.
	flagTentative addrFlags = 0x40
)

// Scopes of an address (RT_SCOPE_* in linux/rtnetlink.h).
const (
	// scopeGlobal is a routable address (RT_SCOPE_UNIVERSE).
	scopeGlobal uint8 = 0
	// scopeHost is valid only on this machine.
	scopeHost uint8 = 254
)

// ifaceAddr is one address configured on this machine.
type ifaceAddr struct {
	Ifindex int          // interface index
	Ifname  string       // interface name, "eth0"
	Prefix  netip.Prefix // the address and its subnet length
	Flags   addrFlags
	Scope   uint8 // scopeGlobal for a routable address
}

// usable reports whether a can be the identity: a global unicast address
// that is not loopback or link-local, and not tentative, failed,
// deprecated or an IPv6 privacy address. A secondary IPv4 address is
// usable (chooseAddr ranks it after the primaries).
func (a ifaceAddr) usable() bool {
	ip := a.Prefix.Addr()
	switch {
	case !ip.IsValid(), ip.IsUnspecified(), ip.IsLoopback(), ip.IsMulticast(),
		ip.IsLinkLocalUnicast(), a.Scope != scopeGlobal:
		return false
	case a.Flags&(flagTentative|flagDADFailed|flagDeprecated) != 0:
		return false
	case ip.Is6() && a.Flags&flagTemporary != 0:
		return false
	}
	return true
}

// chooseAddr picks the identity address among addrs; it returns the zero
// netip.Addr when none is usable. defaultRouteIfindex is the interface of
// the IPv4 default route, else of the IPv6 default route, else 0.
//
// Usable addresses are global unicast ones; loopback, link-local,
// tentative, DAD-failed, deprecated and IPv6 temporary (privacy)
// addresses are skipped. Among the usable ones chooseAddr prefers, in order:
//
//  1. an address on the default route's interface;
//  2. IPv4 over IPv6;
//  3. a primary IPv4 address over a secondary one;
//  4. the lower interface index;
//  5. the lower address.
//
// So the result depends only on the set of addresses, not on their order.
func chooseAddr(addrs []ifaceAddr, defaultRouteIfindex int) netip.Addr {
	var best *ifaceAddr
	for i := range addrs {
		a := &addrs[i]
		if !a.usable() {
			continue
		}
		if best == nil || rank(a, best, defaultRouteIfindex) < 0 {
			best = a
		}
	}
	if best == nil {
		return netip.Addr{}
	}
	return best.Prefix.Addr().Unmap()
}

// rank orders a before b (negative) when a is the better identity.
func rank(a, b *ifaceAddr, defIndex int) int {
	key := func(x *ifaceAddr) []int {
		ip := x.Prefix.Addr().Unmap()
		return []int{
			b2i(defIndex == 0 || x.Ifindex != defIndex),
			b2i(!ip.Is4()),
			b2i(ip.Is4() && x.Flags&flagSecondary != 0),
			x.Ifindex,
		}
	}
	if c := slices.Compare(key(a), key(b)); c != 0 {
		return c
	}
	return a.Prefix.Addr().Unmap().Compare(b.Prefix.Addr().Unmap())
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
