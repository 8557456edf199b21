//go:build linux

package ipfindercmd_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/lab"
)

type jsonHost6 struct {
	IP   string   `json:"ip"`
	MAC  string   `json:"mac"`
	IPv6 []string `json:"ipv6"`
	Self bool     `json:"self"`
}

// sortedIPv6 returns h's IPv6 addresses as JSON writes them: sorted.
func sortedIPv6(t *testing.T, h *lab.Host) []string {
	t.Helper()
	addrs, err := h.IPv6Addrs()
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	var out []string
	for _, a := range addrs {
		out = append(out, a.String())
	}
	return out
}

func TestLabIPv6Neighbours(t *testing.T) {
	l := lab.NewIPv6(t, 0x12) // 2001:db8:12::/64; host 0 is where ipfinder runs
	stdout, stderr, code := run(t, l.Hosts[0], "", "-f", "json")
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	var hosts []jsonHost6
	if err := json.Unmarshal([]byte(stdout), &hosts); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, stdout)
	}
	want := []jsonHost6{
		{IP: l.Hosts[0].Addr.String(), MAC: l.Hosts[0].MAC.String(), IPv6: sortedIPv6(t, l.Hosts[0]), Self: true},
		{IP: l.Hosts[1].Addr.String(), MAC: l.Hosts[1].MAC.String(), IPv6: sortedIPv6(t, l.Hosts[1])},
		{IP: l.Hosts[2].Addr.String(), MAC: l.Hosts[2].MAC.String(), IPv6: sortedIPv6(t, l.Hosts[2])},
		{IP: "2001:db8:12::4", MAC: l.Hosts[3].MAC.String(), IPv6: sortedIPv6(t, l.Hosts[3])},
	}
	if len(want[2].IPv6) != 1 || len(want[3].IPv6) != 2 || len(want[1].IPv6) != 3 {
		t.Fatalf("lab hosts lack addresses: %v", want)
	}
	if !slices.EqualFunc(hosts, want, func(a, b jsonHost6) bool {
		return a.IP == b.IP && a.MAC == b.MAC && slices.Equal(a.IPv6, b.IPv6) && a.Self == b.Self
	}) {
		t.Errorf("found\n%+v\nwant\n%+v", hosts, want)
	}

	// hosts(5) and plain add a line for each global or ULA address.
	hostsOut, stderr, code := run(t, l.Hosts[0], "", "--no-self", "--no-mdns")
	if code != 0 {
		t.Fatalf("hosts: exit %d, stderr:\n%s", code, stderr)
	}
	plainOut, stderr, code := run(t, l.Hosts[0], "", "--no-self", "--no-mdns", "-f", "plain")
	if code != 0 {
		t.Fatalf("plain: exit %d, stderr:\n%s", code, stderr)
	}
	name2 := "host-" + strings.ReplaceAll(l.Hosts[1].Addr.String(), ".", "-")
	name4 := "host-2001-0db8-0012-0000-0000-0000-0000-0004"
	wantHosts := []string{"2001:db8:12::2\t" + name2, "fd00:db8:12::2\t" + name2, "2001:db8:12::4\t" + name4}
	wantPlain := []string{l.Hosts[1].Addr.String(), "2001:db8:12::2", "fd00:db8:12::2", l.Hosts[2].Addr.String(), "2001:db8:12::4"}
	for _, w := range wantHosts {
		if !slices.Contains(strings.Split(hostsOut, "\n"), w) {
			t.Errorf("hosts output lacks %q:\n%s", w, hostsOut)
		}
	}
	if got := strings.Split(strings.TrimSpace(plainOut), "\n")[1:]; !slices.Equal(got, wantPlain) {
		t.Errorf("plain output = %q, want %q", got, wantPlain)
	}
	for _, out := range []string{hostsOut, plainOut} {
		if strings.Contains(out, "fe80:") || strings.Contains(out, "2001:db8:12::1") {
			t.Errorf("output lists a link-local address or this host:\n%s", out)
		}
	}

	// --exclude leaves out IPv6 addresses too; host 3 keeps its link-local one.
	plainOut, stderr, code = run(t, l.Hosts[0], "", "--no-self", "--no-mdns", "-f", "plain", "--exclude", "2001:db8:12::/48")
	if code != 0 {
		t.Fatalf("--exclude: exit %d, stderr:\n%s", code, stderr)
	}
	ll4 := sortedIPv6(t, l.Hosts[3])[1]
	wantPlain = []string{l.Hosts[1].Addr.String(), "fd00:db8:12::2", l.Hosts[2].Addr.String(), ll4}
	if got := strings.Split(strings.TrimSpace(plainOut), "\n")[1:]; !slices.Equal(got, wantPlain) {
		t.Errorf("--exclude plain output = %q, want %q", got, wantPlain)
	}

	// --no-ipv6 skips it: no ipv6 lists, no IPv6-only host.
	stdout, stderr, code = run(t, l.Hosts[0], "", "-f", "json", "--no-ipv6")
	if code != 0 {
		t.Fatalf("--no-ipv6: exit %d, stderr:\n%s", code, stderr)
	}
	if strings.Contains(stdout, `"ipv6"`) || strings.Contains(stdout, "2001:db8:12::4") {
		t.Errorf("--no-ipv6 output has IPv6:\n%s", stdout)
	}
	hosts = nil
	if err := json.Unmarshal([]byte(stdout), &hosts); err != nil || len(hosts) != 3 {
		t.Errorf("--no-ipv6 found %d hosts (%v), want 3:\n%s", len(hosts), err, stdout)
	}
}

// TestLabIPv6OnlyHostsNamed names IPv6-only hosts: host 1, whose IPv4
// address is excluded so that ipfinder knows it by IPv6 only, from the
// AAAA records of its avahi-daemon (use-ipv6=yes), and host 3, which has
// no IPv4 address, from dnsmasq's ip6.arpa PTR record on host 2.
func TestLabIPv6OnlyHostsNamed(t *testing.T) {
	lab.NeedTools(t, "dnsmasq", "avahi-daemon")
	l := lab.NewIPv6(t, 0x12) // 2001:db8:12::/64; host 0 is where ipfinder runs
	if err := l.Hosts[1].StartAvahiIPv6("labhost2"); err != nil {
		t.Fatal(err)
	}
	if err := l.Hosts[2].StartDNS(map[string]netip.Addr{"six.lan": netip.MustParseAddr("2001:db8:12::4")}); err != nil {
		t.Fatal(err)
	}
	want := map[netip.Addr]map[string]string{
		netip.MustParseAddr("2001:db8:12::2"): {"labhost2.local": "mdns"},
		netip.MustParseAddr("2001:db8:12::4"): {"six.lan": "dns"},
	}
	args := []string{"--exclude", l.Hosts[1].Addr.String() + "/32", "--dns", l.Hosts[2].Addr.String()}
	// avahi announces its workstation service a little after it is ready.
	lab.Eventually(t, 20*time.Second, "names of the IPv6-only hosts", func() error {
		got, _ := sweepNames(t, l.Hosts[0], args...)
		for a, w := range want {
			if !maps.Equal(got[a].Sources, w) {
				return fmt.Errorf("%v: sources %v, want %v (all: %v)", a, got[a].Sources, w, got)
			}
		}
		return nil
	})
}

// TestLabMDNSOverIPv6Named names hosts whose avahi-daemon answers over
// IPv6 only: host 1 (use-ipv4=no), whose name and IPv6 addresses join its
// IPv4 host by MAC, and host 3, which has no IPv4 address. -v notes
// nothing about IPv6 being unavailable, since it is not.
func TestLabMDNSOverIPv6Named(t *testing.T) {
	lab.NeedTools(t, "avahi-daemon")
	l := lab.NewIPv6(t, 0x14) // 2001:db8:14::/64; host 0 is where ipfinder runs
	if err := l.Hosts[1].StartAvahiIPv6Only("labhost2"); err != nil {
		t.Fatal(err)
	}
	if err := l.Hosts[3].StartAvahiIPv6("labhost4"); err != nil {
		t.Fatal(err)
	}
	want := map[netip.Addr]map[string]string{
		l.Hosts[1].Addr:                       {"labhost2.local": "mdns"},
		netip.MustParseAddr("2001:db8:14::4"): {"labhost4.local": "mdns"},
	}
	var got map[netip.Addr]namedHost
	// avahi announces its workstation service a little after it is ready.
	lab.Eventually(t, 20*time.Second, "names of the hosts answering over IPv6", func() error {
		got, _ = sweepNames(t, l.Hosts[0], "--no-rdns", "--no-netbios")
		for a, w := range want {
			if !maps.Equal(got[a].Sources, w) {
				return fmt.Errorf("%v: sources %v, want %v (all: %v)", a, got[a].Sources, w, got)
			}
		}
		return nil
	})
	if h := got[l.Hosts[1].Addr]; h.MAC != l.Hosts[1].MAC.String() || !slices.Equal(h.IPv6, sortedIPv6(t, l.Hosts[1])) {
		t.Errorf("host 1 = %+v, want MAC %v and IPv6 %v", h, l.Hosts[1].MAC, sortedIPv6(t, l.Hosts[1]))
	}
	if len(got) != 3 {
		t.Errorf("found %d hosts, want 3 (the IPv6 names make no extra host): %v", len(got), got)
	}
	_, stderr, code := run(t, l.Hosts[0], "", "-v", "--no-rdns", "--no-netbios")
	if code != 0 || strings.Contains(stderr, "IPv4 only") {
		t.Errorf("-v: exit %d, stderr:\n%s", code, stderr)
	}
}

// TestLabMDNSWithoutIPv6 sweeps from a host whose interface has IPv6
// disabled: mDNS runs over IPv4 as before, with no error and a -v note.
func TestLabMDNSWithoutIPv6(t *testing.T) {
	lab.NeedTools(t, "avahi-daemon")
	l := lab.New(t, lab.Config{Hosts: 2})
	lab.Shell(t, l.Hosts[0], "sysctl -qw net.ipv6.conf."+l.Hosts[0].Iface+".disable_ipv6=1")
	if err := l.Hosts[1].StartAvahi("labhost2"); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"labhost2.local": "mdns"}
	var stderr string
	lab.Eventually(t, 20*time.Second, "the IPv4 avahi host's name", func() error {
		var got map[netip.Addr]namedHost
		got, stderr = sweepNames(t, l.Hosts[0], "-v", "--no-rdns", "--no-netbios")
		if !maps.Equal(got[l.Hosts[1].Addr].Sources, want) {
			return fmt.Errorf("sources %v, want %v (all: %v)", got[l.Hosts[1].Addr].Sources, want, got)
		}
		return nil
	})
	if !strings.Contains(stderr, "mdns: browsing over IPv4 only") || strings.Contains(stderr, "warning") {
		t.Errorf("want a -v note that mDNS runs over IPv4 only, and no warning; stderr:\n%s", stderr)
	}
}
