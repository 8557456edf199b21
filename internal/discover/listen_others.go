//go:build !linux

package discover

import (
	"fmt"
	"net"
	"runtime"
)

// Listen is not implemented on this platform.
func Listen(ifi *net.Interface) (net.PacketConn, error) {
	return nil, fmt.Errorf("discover: not implemented on %s: use --no-discover", runtime.GOOS)
}
