//go:build !unix

package lab

import (
	"net"
	"testing"
)

// FreePort returns a loopback port that was free a moment ago. Elsewhere
// than on unix systems it is not reserved against other processes.
func FreePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
