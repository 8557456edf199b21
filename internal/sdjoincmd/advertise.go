package sdjoincmd

import (
	"errors"
	"net"
	"net/netip"
)

// sharedSpace is RFC 6598's carrier-grade NAT space, private for memberlist.
var sharedSpace = netip.MustParsePrefix("100.64.0.0/10")

// chooseAdvertise picks the address to advertise when bound to 0.0.0.0,
// as memberlist does: the first private IPv4 address, else the first global
// unicast IPv4 address. addrs are the addresses of the up, non-loopback
// interfaces in interface order.
func chooseAdvertise(addrs []netip.Addr) (netip.Addr, bool) {
	var global netip.Addr
	for _, a := range addrs {
		a = a.Unmap()
		switch {
		case !a.Is4() || a.IsLoopback() || a.IsLinkLocalUnicast() || !a.IsGlobalUnicast():
			continue
		case a.IsPrivate() || sharedSpace.Contains(a):
			return a, true
		case !global.IsValid():
			global = a
		}
	}
	return global, global.IsValid()
}

// interfaceAddrs returns the addresses of the up interfaces in interface
// order; withLoopback includes the loopback ones.
func interfaceAddrs(withLoopback bool) ([]netip.Addr, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagUp == 0 || !withLoopback && ifi.Flags&net.FlagLoopback != 0 {
			continue
		}
		as, err := ifi.Addrs()
		if err != nil {
			continue
		}
		for _, a := range as {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				out = append(out, p.Addr().Unmap())
			}
		}
	}
	return out, nil
}

// defaultAdvertise is chooseAdvertise over this machine's interfaces.
func defaultAdvertise() (netip.Addr, error) {
	addrs, err := interfaceAddrs(false)
	if err != nil {
		return netip.Addr{}, err
	}
	a, ok := chooseAdvertise(addrs)
	if !ok {
		return netip.Addr{}, errors.New("no private or global IPv4 address to advertise: pass --advertise ADDR or --bind ADDR:PORT")
	}
	return a, nil
}
