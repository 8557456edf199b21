//go:build !linux

package sdjoincmd

import "net"

// peerUID is not available on this platform: the client relies on the
// socket's owner and directory (see checkSocket).
func peerUID(net.Conn) (int, bool) { return 0, false }
