package ipfindercmd

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/ipfinder-go/ipfinder/scan"
)

// TestFeed hands the mDNS browser the ARP hosts' addresses first, then,
// once IPv6 neighbour discovery is done, the IPv6 neighbours', and closes
// the channel; it stops when the browser is done.
func TestFeed(t *testing.T) {
	ip := netip.MustParseAddr
	replies := []scan.ARPReply{{Addr: ip("192.0.2.2")}, {Addr: ip("192.0.2.3")}}
	ipv6 := []scan.IPv6Neighbor{{Addr: ip("2001:db8::2")}, {Addr: ip("fe80::3%eth0")}}

	found := make(chan netip.Addr, 8)
	ipv6Got := make(chan struct{})
	var neighbours []scan.IPv6Neighbor
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		feed(found, make(chan struct{}), replies, ipv6Got, &neighbours)
	}()
	for _, want := range []string{"192.0.2.2", "192.0.2.3"} {
		if got := <-found; got != ip(want) {
			t.Fatalf("fed %v, want %v", got, want)
		}
	}
	neighbours = ipv6
	close(ipv6Got)
	<-fed
	var rest []netip.Addr
	for a := range found {
		rest = append(rest, a)
	}
	if want := []netip.Addr{ip("2001:db8::2"), ip("fe80::3%eth0")}; !slices.Equal(rest, want) {
		t.Errorf("fed %v after IPv6, want %v", rest, want)
	}

	// A browser that is done takes nothing more: feed returns and closes.
	found = make(chan netip.Addr)
	done := make(chan struct{})
	close(done)
	feed(found, done, replies, make(chan struct{}), &neighbours)
	if _, ok := <-found; ok {
		t.Error("found not closed after the browser was done")
	}
}

// TestMDNSWindowOutlastsSlowSweeps: the browse beside a /16 sweep lasts
// past the end of a sweep that sends at a fifth of its rate (measured in
// the lab on a loaded machine: 65,533 first requests in 33 s at 10000/s),
// where the sweep's time at its rate alone ended it at 21.7 s, before the
// sweep had fed it its hosts.
func TestMDNSWindowOutlastsSlowSweeps(t *testing.T) {
	o := &options{timeout: 500 * time.Millisecond, retries: 2}
	n, rate := 65533, 10000
	firstPassAtFifth := time.Duration(n) * time.Second / time.Duration(rate/5)
	slowSweep := firstPassAtFifth + 2*o.timeout
	if got := mdnsWindow(n, rate, o); got < slowSweep+time.Second {
		t.Errorf("mdnsWindow = %v, want at least %v: the sweep at a fifth of its rate plus a second", got, slowSweep+time.Second)
	}
}
