package discover

import (
	"fmt"
	"net"
	"net/netip"
)

// InterfaceOf returns the interface holding addr if discovery can use
// it: up, multicast and not loopback.
func InterfaceOf(addr netip.Addr) (*net.Interface, error) {
	ifis, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	for i := range ifis {
		if holds(&ifis[i], addr) {
			return usable(&ifis[i], addr)
		}
	}
	return nil, fmt.Errorf("no interface holds %s", addr)
}

// holds reports whether ifi has the address addr.
func holds(ifi *net.Interface, addr netip.Addr) bool {
	addrs, err := ifi.Addrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if p, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(p.IP); ok && ip.Unmap() == addr {
				return true
			}
		}
	}
	return false
}

// usable returns ifi if discovery can use it, else why not.
func usable(ifi *net.Interface, addr netip.Addr) (*net.Interface, error) {
	switch {
	case ifi.Flags&net.FlagLoopback != 0:
		return nil, fmt.Errorf("%s is on loopback (%s)", addr, ifi.Name)
	case ifi.Flags&net.FlagMulticast == 0:
		return nil, fmt.Errorf("%s (%s) has no multicast", ifi.Name, addr)
	case ifi.Flags&net.FlagUp == 0:
		return nil, fmt.Errorf("%s (%s) is down", ifi.Name, addr)
	}
	return ifi, nil
}
