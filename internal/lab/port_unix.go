//go:build unix

package lab

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Ports handed out by FreePort lie below the kernel's ephemeral range, so
// no socket bound to port 0 (by any process) can take one, and each is
// reserved across test processes by a lock file held until the test ends.
const (
	portLow  = 20000
	portHigh = 32000 // fallback upper bound when the ephemeral range is unknown
)

// FreePort returns a loopback port, free for TCP and UDP, that no other
// test (in this process or another) gets until tb ends: unlike a port
// from a closed port-0 listener, it cannot be taken by an ephemeral
// socket in between.
func FreePort(tb testing.TB) int {
	tb.Helper()
	dir := portDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		tb.Fatal(err)
	}
	if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() || fi.Sys().(*syscall.Stat_t).Uid != uint32(os.Getuid()) {
		tb.Fatalf("port lock directory %s is not ours: remove it", dir)
	}
	high := ephemeralLow()
	for range 200 {
		port := portLow + rand.IntN(high-portLow)
		f, ok := lockPort(dir, port)
		if !ok {
			continue
		}
		if bindable(port) {
			tb.Cleanup(func() { f.Close() })
			return port
		}
		f.Close()
	}
	tb.Fatal("no free port")
	return 0
}

// portDir holds the lock files of reserved ports.
func portDir() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("ipfinder-test-ports-%d", os.Getuid()))
}

// lockPort takes the lock file of port without waiting.
func lockPort(dir string, port int) (*os.File, bool) {
	f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(port)), os.O_CREATE|os.O_RDWR|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, false
	}
	if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		f.Close()
		return nil, false
	}
	return f, true
}

// bindable reports whether port is free on loopback for TCP and UDP.
func bindable(port int) bool {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	defer l.Close()
	u, err := net.ListenPacket("udp", addr)
	if err != nil {
		return false
	}
	return u.Close() == nil
}

// ephemeralLow is the bottom of the kernel's ephemeral port range.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return portHigh
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return portHigh
	}
	if n, err := strconv.Atoi(f[0]); err == nil && n > portLow+1000 {
		return n
	}
	return portHigh
}
