//go:build !linux

package rename

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
)

// interfacesSource polls net.Interfaces: there are no address events,
// flags or default routes here, so chooseAddr sees every address as primary
// and falls back to the interface order.
type interfacesSource struct{}

func openSource(*slog.Logger, int) (source, error) {
	return interfacesSource{}, nil
}

func (interfacesSource) close() error { return nil }

func (interfacesSource) subscribe() (<-chan struct{}, func(), error) {
	return nil, nil, errors.ErrUnsupported
}

func (interfacesSource) read() (snapshot, error) {
	ifis, err := net.Interfaces()
	if err != nil {
		return snapshot{}, fmt.Errorf("rename: list interfaces: %w", err)
	}
	var snap snapshot
	for _, ifi := range ifis {
		addrs, err := ifi.Addrs()
		if err != nil {
			return snapshot{}, fmt.Errorf("rename: addresses of %s: %w", ifi.Name, err)
		}
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(n.IP)
			if !ok {
				continue
			}
			ones, _ := n.Mask.Size()
			snap.addrs = append(snap.addrs, ifaceAddr{
				Ifindex: ifi.Index,
				Ifname:  ifi.Name,
				Prefix:  netip.PrefixFrom(ip.Unmap(), ones),
			})
		}
	}
	return snap, nil
}
