//go:build !linux

package scan

import (
	"fmt"
	"net"
	"runtime"
)

// DialARP is implemented on Linux only; elsewhere it returns an error.
func DialARP(ifi *net.Interface) (*ARPScanner, error) {
	return nil, fmt.Errorf("scan: ARP sweeps are not implemented on %s", runtime.GOOS)
}

func isTransientSendError(error) bool { return false }
