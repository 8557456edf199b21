package sdjoincmd

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/ipfinder-go/ipfinder/rename"
)

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

// defaultAdvertise is the address advertised with --no-rename and --bind
// 0.0.0.0: this machine's IPv4 identity, chosen once by the same policy
// that rename follows it with (rename.Identity).
func defaultAdvertise() (netip.Addr, error) {
	a, err := rename.Identity(&rename.Config{Family: 4})
	if err != nil {
		return netip.Addr{}, fmt.Errorf("reading this machine's addresses: %w", err)
	}
	if !a.IsValid() {
		return netip.Addr{}, errors.New("no usable IPv4 address to advertise: pass --advertise ADDR or --bind ADDR:PORT")
	}
	return a, nil
}
