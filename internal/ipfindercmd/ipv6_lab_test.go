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
