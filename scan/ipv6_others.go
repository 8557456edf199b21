//go:build !linux

package scan

import (
	"fmt"
	"net"
	"net/netip"
	"runtime"
)

// neighborTable is implemented on Linux only; elsewhere it returns an error.
func neighborTable(*net.Interface) (map[netip.Addr]net.HardwareAddr, error) {
	return nil, fmt.Errorf("scan: IPv6 neighbour discovery is not implemented on %s", runtime.GOOS)
}
