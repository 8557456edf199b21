package rename_test

import (
	"testing"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/lab"
	"github.com/ipfinder-go/ipfinder/rename"
)

// TestDHCP moves the client's address with a real DHCP server (dnsmasq)
// and client (busybox udhcpc), with the default debounce and grace.
func TestDHCP(t *testing.T) {
	lab.NeedTools(t, "ip", "dnsmasq", "busybox")
	l := lab.New(t, lab.Config{Hosts: 2})
	client, server := l.Hosts[0], l.Hosts[1]
	first, second := l.Addr(120), l.Addr(121)
	d := lab.NewDHCP(t, l, server, client, first)

	w := watchIn(t, client, nil) // the defaults: 2 s debounce, 5 s grace
	if w.Current() != first {
		t.Fatalf("Current = %v, want the lease %v", w.Current(), first)
	}

	// A new reservation: the renewal is refused, udhcpc flushes the
	// address and gets the new one about 3 s later.
	start := time.Now()
	bound, err := d.Move(second)
	if err != nil {
		t.Fatal(err)
	}
	took := expectChange(t, w, rename.Change{Old: first, New: second}, start, 12*time.Second)
	t.Logf("moved %v -> %v: lease bound %v after the move, change %v after the new address (%v after the move)",
		first, second, bound.Sub(start).Round(time.Millisecond),
		(took - bound.Sub(start)).Round(time.Millisecond), took.Round(time.Millisecond))

	// A plain renewal keeps the address: no change.
	if _, err := d.Renew(); err != nil {
		t.Fatal(err)
	}
	expectNoChange(t, w, rename.DefaultDebounce+time.Second)
	if w.Current() != second {
		t.Fatalf("Current = %v, want %v", w.Current(), second)
	}
}
