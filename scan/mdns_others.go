//go:build !linux

package scan

import (
	"fmt"
	"log/slog"
	"net"
	"runtime"
)

func listenMDNS(ifi *net.Interface, log *slog.Logger) (net.PacketConn, bool, error) {
	return nil, false, fmt.Errorf("mdns: browsing not implemented on %s", runtime.GOOS)
}
