//go:build !linux

package scan

import (
	"fmt"
	"net/netip"
	"runtime"
)

// NeighborAddrs is implemented on Linux only; elsewhere it returns an error.
func NeighborAddrs(index int) ([]netip.Addr, error) {
	return nil, fmt.Errorf("scan: reading the neighbour table is not implemented on %s", runtime.GOOS)
}
