package rename

import (
	"net/netip"
	"slices"
)

// Flags are the kernel's address flags (IFA_F_* in linux/if_addr.h), with the
// same values, so a netlink address's flags convert by a plain cast.
type Flags uint32

// The address flags that Choose looks at.
const (
	// FlagSecondary marks a secondary IPv4 address: one more address in a
	// subnet that the interface already has a primary address in.
	FlagSecondary Flags = 0x01
	// FlagTemporary marks an IPv6 privacy address (RFC 8981). The kernel
	// uses the same bit as FlagSecondary.
	FlagTemporary Flags = 0x01
	// FlagDADFailed marks an IPv6 address whose duplicate address
	// detection found another owner.
	FlagDADFailed Flags = 0x08
	// FlagDeprecated marks an address whose preferred lifetime ran out.
	FlagDeprecated Flags = 0x20
	// FlagTentative marks an IPv6 address still in duplicate address
	// detection.
	FlagTentative Flags = 0x40
)

// Scopes of an address (RT_SCOPE_* in linux/rtnetlink.h).
const (
	// ScopeGlobal is a routable address (RT_SCOPE_UNIVERSE).
	ScopeGlobal uint8 = 0
	// ScopeLink is valid only on its link.
	ScopeLink uint8 = 253
	// ScopeHost is valid only on this machine.
	ScopeHost uint8 = 254
)

// Addr is one address configured on this machine.
type Addr struct {
	Ifindex int          // interface index
	Ifname  string       // interface name, "eth0"
	Prefix  netip.Prefix // the address and its subnet length
	Flags   Flags
	Scope   uint8 // ScopeGlobal for a routable address
}

// usable reports whether a can be the identity: a global unicast address
// that is not loopback or link-local, and not tentative, failed,
// deprecated or an IPv6 privacy address. A secondary IPv4 address is
// usable (Choose ranks it after the primaries).
func (a Addr) usable() bool {
	ip := a.Prefix.Addr()
	switch {
	case !ip.IsValid(), ip.IsUnspecified(), ip.IsLoopback(), ip.IsMulticast(),
		ip.IsLinkLocalUnicast(), a.Scope != ScopeGlobal:
		return false
	case a.Flags&(FlagTentative|FlagDADFailed|FlagDeprecated) != 0:
		return false
	case ip.Is6() && a.Flags&FlagTemporary != 0:
		return false
	}
	return true
}

// Choose picks the identity address among addrs; it returns the zero
// netip.Addr when none is usable. defaultRouteIfindex is the interface of
// the IPv4 default route, else of the IPv6 default route, else 0.
//
// Usable addresses are global unicast ones; loopback, link-local,
// tentative, DAD-failed, deprecated and IPv6 temporary (privacy)
// addresses are skipped. Among the usable ones Choose prefers, in order:
//
//  1. an address on the default route's interface;
//  2. IPv4 over IPv6;
//  3. a primary IPv4 address over a secondary one;
//  4. the lower interface index;
//  5. the lower address.
//
// So the result depends only on the set of addresses, not on their order.
func Choose(addrs []Addr, defaultRouteIfindex int) netip.Addr {
	var best *Addr
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
func rank(a, b *Addr, defIndex int) int {
	key := func(x *Addr) []int {
		ip := x.Prefix.Addr().Unmap()
		return []int{
			b2i(defIndex == 0 || x.Ifindex != defIndex),
			b2i(!ip.Is4()),
			b2i(ip.Is4() && x.Flags&FlagSecondary != 0),
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
