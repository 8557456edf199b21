//go:build linux

package lab

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/mdlayher/arp"
)

func TestStartSlowARP(t *testing.T) {
	t.Parallel()
	const delay = 400 * time.Millisecond
	l := New(t, Config{Hosts: 2})
	a, b := l.Hosts[0], l.Hosts[1]
	if err := b.StartSlowARP(delay); err != nil {
		t.Fatal(err)
	}
	if err := b.StartSlowARP(delay); err == nil {
		t.Error("second StartSlowARP succeeded, want an error")
	}
	var c *arp.Client
	err := a.Do(func() error {
		ifi, err := net.InterfaceByName(a.Iface)
		if err != nil {
			return err
		}
		c, err = arp.Dial(ifi)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if err := c.Request(b.Addr); err != nil {
		t.Fatal(err)
	}
	if err := c.SetReadDeadline(start.Add(delay + 2*time.Second)); err != nil {
		t.Fatal(err)
	}
	for {
		p, _, err := c.Read()
		if err != nil {
			t.Fatalf("no ARP reply from %v: %v", b.Addr, err)
		}
		if p.Operation != arp.OperationReply || p.SenderIP != b.Addr {
			continue
		}
		took := time.Since(start)
		if took < delay {
			t.Errorf("reply after %v, want at least %v", took, delay)
		}
		if p.SenderHardwareAddr.String() != b.MAC.String() {
			t.Errorf("reply has MAC %v, want %v", p.SenderHardwareAddr, b.MAC)
		}
		t.Logf("ARP reply after %v", took)
		break
	}
	// A real tool inside the lab sees the same delay.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start = time.Now()
	out, err := a.Command(ctx, "busybox", "arping", "-c", "1", "-w", "3", "-I", a.Iface, b.Addr.String()).CombinedOutput()
	if took := time.Since(start); err != nil || took < delay {
		t.Errorf("arping %v: took %v (want at least %v), err %v:\n%s", b.Addr, took, delay, err, out)
	}
	// The kernel still talks IP once the address is resolved.
	if !ping(t, a, b, true) {
		t.Errorf("%v cannot ping %v behind slow ARP", a, b)
	}
}
