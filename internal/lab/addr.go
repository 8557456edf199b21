package lab

import "net/netip"

// Addr returns the address n after the start of the lab's prefix: Addr(1)
// is Hosts[0].Addr, and addresses past the hosts are free for tests to
// add.
func (l *Lab) Addr(n int) netip.Addr {
	a := l.Prefix.Masked().Addr()
	for range n {
		a = a.Next()
	}
	return a
}
