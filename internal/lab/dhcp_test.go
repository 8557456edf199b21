//go:build linux

package lab

import (
	"context"
	"strings"
	"testing"
	"time"
)

// addrsOf returns the global IPv4 addresses on h's eth0.
func addrsOf(t *testing.T, h *Host) string {
	t.Helper()
	out, err := h.Command(context.Background(), "ip", "-4", "-o", "addr", "show", "dev", h.Iface, "scope", "global").CombinedOutput()
	if err != nil {
		t.Fatalf("%s: ip addr: %v\n%s", h.Name, err, out)
	}
	return string(out)
}

func TestStartDHCP_lease_move_renew(t *testing.T) {
	t.Parallel()
	NeedTools(t, "dnsmasq", "busybox")
	l := New(t, Config{Hosts: 2})
	client, server := l.Hosts[0], l.Hosts[1]
	first, second := l.Addr(120), l.Addr(121)
	d := NewDHCP(t, l, server, client, first)
	if got := d.Lease(); got != first {
		t.Errorf("Lease = %v, want %v", got, first)
	}
	if out := addrsOf(t, client); !strings.Contains(out, " "+first.String()+"/") || strings.Contains(out, " "+client.Addr.String()+"/") {
		t.Errorf("client addresses after the lease, want %v only:\n%s", first, out)
	}

	start := time.Now()
	at, err := d.Move(second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("moved %v -> %v in %v", first, second, at.Sub(start).Round(time.Millisecond))
	if got := d.Lease(); got != second {
		t.Errorf("Lease after Move = %v, want %v", got, second)
	}
	if out := addrsOf(t, client); !strings.Contains(out, " "+second.String()+"/") || strings.Contains(out, " "+first.String()+"/") {
		t.Errorf("client addresses after Move, want %v only:\n%s", second, out)
	}

	if _, err := d.Renew(); err != nil {
		t.Fatal(err)
	}
	if got := d.Lease(); got != second {
		t.Errorf("Lease after Renew = %v, want %v", got, second)
	}
	if out := addrsOf(t, client); !strings.Contains(out, " "+second.String()+"/") {
		t.Errorf("client addresses after Renew, want %v:\n%s", second, out)
	}

	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*proc{d.dnsmasq, d.udhcpc} {
		select {
		case <-p.done:
		default:
			t.Errorf("%v still running after Close", p.cmd.Args)
		}
	}
	if _, err := l.StartDHCP(server, client, first); err == nil {
		t.Error("StartDHCP on a closed lab: no error")
	}
}
