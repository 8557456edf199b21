package main

import (
	"net/netip"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// runDHCP moves the first of three agents, a DHCP client, to a new
// reserved address; the measurement starts when the new lease is applied.
func runDHCP(bin string) (result, error) {
	return measureMove(bin, func(l *lab.Lab) (netip.Addr, netip.Addr, move, error) {
		first, second := l.Addr(120), l.Addr(121)
		d, err := l.StartDHCP(l.Hosts[1], l.Hosts[0], first)
		if err != nil {
			return first, second, nil, err
		}
		return first, second, func() (time.Time, error) { return d.Move(second) }, nil
	})
}
