//go:build !linux

package scan

import (
	"fmt"
	"net"
	"runtime"
)

func listenMDNS(*net.Interface) (net.PacketConn, error) {
	return nil, fmt.Errorf("browsing not implemented on %s", runtime.GOOS)
}

func listenMDNS6(*net.Interface) (net.PacketConn, error) {
	return nil, fmt.Errorf("browsing not implemented on %s", runtime.GOOS)
}
