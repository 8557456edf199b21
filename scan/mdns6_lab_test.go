//go:build linux

package scan

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// TestBrowseMDNSLabIPv6 browses a LAN whose responders answer over IPv6
// only: host 1 runs avahi with use-ipv4=no beside its IPv4 address, host 3
// has no IPv4 address at all. Both must be named from what they answer on
// ff02::fb, with their IPv6 addresses, by browsing (the browse keeps its
// 1 s bound) and by ip6.arpa reverse lookups alone.
func TestBrowseMDNSLabIPv6(t *testing.T) {
	skipUnlessAvahiLab(t)
	l := lab.NewIPv6(t, 0x13) // 2001:db8:13::/64; host 0 browses
	h := l.Hosts
	if err := h[1].StartAvahiIPv6Only("labhost2", lab.Service{Type: "_ssh._tcp", Port: 22}); err != nil {
		t.Fatal(err)
	}
	if err := h[3].StartAvahiIPv6("labhost4"); err != nil {
		t.Fatal(err)
	}
	ws := "_workstation._tcp"
	// avahi publishes no link-local address beside a routable one; a host
	// known by IPv6 only is listed by its lowest global address.
	a := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	want := []MDNSHost{
		{Addr: a("2001:db8:13::2"), Names: []string{"labhost2.local"}, Services: []string{"_ssh._tcp", ws},
			IPv6: []netip.Addr{a("2001:db8:13::2"), a("fd00:db8:13::2")}},
		{Addr: a("2001:db8:13::4"), Names: []string{"labhost4.local"}, Services: []string{ws},
			IPv6: []netip.Addr{a("2001:db8:13::4")}},
	}
	job := mdnsChildJob{Iface: h[0].Iface, Addr: h[0].Addr, Runs: 1}
	var res mdnsChildResult
	// avahi announces its services a little after it reports ready.
	lab.Eventually(t, 20*time.Second, "the IPv6-only responders' names", func() error {
		res = mdnsChildResult{}
		if err := json.Unmarshal(runChild(t, h[0], "TestMDNSLabChild", mdnsChildEnv, childMarker, job), &res); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, res.Hosts[0], cmpAddr); diff != "" {
			return fmt.Errorf("(-want +got):\n%s", diff)
		}
		return nil
	})
	job.Runs = 3
	if err := json.Unmarshal(runChild(t, h[0], "TestMDNSLabChild", mdnsChildEnv, childMarker, job), &res); err != nil {
		t.Fatal(err)
	}
	for i, got := range res.Hosts {
		if diff := cmp.Diff(want, got, cmpAddr); diff != "" {
			t.Errorf("run %d (-want +got):\n%s", i, diff)
		}
		if res.Elapsed[i] > 1500*time.Millisecond {
			t.Errorf("run %d took %v, want at most the 1 s timeout (+ slack)", i, res.Elapsed[i])
		}
	}

	// Without browsing, ip6.arpa reverse lookups of the addresses fed name
	// them (a responder that publishes no service); host 2 runs no
	// responder.
	job = mdnsChildJob{Iface: h[0].Iface, Addr: h[0].Addr, Runs: 1, NoBrowse: true,
		Feed: append(ipv6Addrs(t, h[2]), a("2001:db8:13::2"), a("fd00:db8:13::2"), a("2001:db8:13::4"))}
	if err := json.Unmarshal(runChild(t, h[0], "TestMDNSLabChild", mdnsChildEnv, childMarker, job), &res); err != nil {
		t.Fatal(err)
	}
	// Service types may be overheard from answers to the earlier browses.
	for i := range want {
		want[i].Services = nil
	}
	for i := range res.Hosts[0] {
		res.Hosts[0][i].Services = nil
	}
	if diff := cmp.Diff(want, res.Hosts[0], cmpAddr); diff != "" {
		t.Errorf("reverse lookups only (-want +got):\n%s", diff)
	}
}
