package check

import (
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestTCPCheckTimeout checks that a connect that hangs fails at the
// timeout: a loopback listener with a backlog of 0 that never accepts
// drops SYNs once its queue is full.
func TestTCPCheckTimeout(t *testing.T) {
	addr := fullListener(t)
	start := time.Now()
	res := runSpec(t, "tcp://"+addr, 300*time.Millisecond)
	if res.Pass || !strings.Contains(res.Output, "timeout") || time.Since(start) > 2*time.Second {
		t.Fatalf("got %+v after %v, want a timeout after 300ms", res, time.Since(start))
	}
}

// fullListener returns the address of a loopback socket listening with
// backlog 0 whose accept queue is full.
func fullListener(t *testing.T) string {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	for i := 0; ; i++ { // fill the queue until a connect hangs
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			return addr
		}
		t.Cleanup(func() { c.Close() })
		if i > 10 {
			t.Fatal("accept queue never filled")
		}
	}
}
