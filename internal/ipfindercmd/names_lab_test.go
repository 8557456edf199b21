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

// homeLAN is a lab like a home LAN: a router (host 1) whose DNS knows the
// names of its DHCP clients (hosts 3-12), two avahi hosts (5, also known
// to DNS, and 13), a Samba host (15), and hosts nobody names (14, 16).
// ipfinder runs on host 2, whose resolv.conf names the router.
type homeLAN struct {
	lab     *lab.Lab
	scanner *lab.Host
	// want is every other host's expected names, in order, with their
	// sources; nil for nameless hosts.
	want map[netip.Addr][][2]string
}

func newHomeLAN(t *testing.T) *homeLAN {
	t.Helper()
	lab.NeedTools(t, "dnsmasq", "nmbd", "avahi-daemon")
	l := lab.New(t, lab.Config{Hosts: 16})
	h := func(n int) *lab.Host { return l.Hosts[n-1] }
	home := &homeLAN{lab: l, scanner: h(2), want: make(map[netip.Addr][][2]string)}
	add := func(n int, name, source string) {
		home.want[h(n).Addr] = append(home.want[h(n).Addr], [2]string{name, source})
	}
	for _, n := range []int{5, 13} {
		if err := h(n).StartAvahi(fmt.Sprintf("labhost%d", n)); err != nil {
			t.Fatal(err)
		}
		add(n, fmt.Sprintf("labhost%d.local", n), "mdns")
	}
	dns := map[string]netip.Addr{"router.lan": h(1).Addr}
	add(1, "router.lan", "dns")
	for n := 3; n <= 12; n++ {
		name := fmt.Sprintf("client%d.lan", n)
		dns[name] = h(n).Addr
		add(n, name, "dns")
	}
	if err := h(1).StartDNS(dns); err != nil {
		t.Fatal(err)
	}
	if err := h(15).StartNMBD("SAMBA15", "LABGROUP"); err != nil {
		t.Fatal(err)
	}
	add(15, "samba15", "netbios")
	home.want[h(14).Addr], home.want[h(16).Addr] = nil, nil
	if err := home.scanner.UseResolver(h(1).Addr); err != nil {
		t.Fatal(err)
	}
	return home
}

type namedHost struct {
	IP        string            `json:"ip"`
	MAC       string            `json:"mac"`
	IPv6      []string          `json:"ipv6"`
	Names     []string          `json:"names"`
	Sources   map[string]string `json:"sources"`
	Workgroup string            `json:"workgroup"`
	Self      bool              `json:"self"`
}

// sweepNames runs ipfinder -f json with args on h and returns the hosts
// by address.
func sweepNames(t *testing.T, h *lab.Host, args ...string) (map[netip.Addr]namedHost, string) {
	t.Helper()
	stdout, stderr, code := run(t, h, "", append([]string{"-f", "json", "--no-self"}, args...)...)
	if code != 0 {
		t.Fatalf("ipfinder %v: exit %d, stderr:\n%s", args, code, stderr)
	}
	var hosts []namedHost
	if err := json.Unmarshal([]byte(stdout), &hosts); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, stdout)
	}
	out := make(map[netip.Addr]namedHost)
	for _, x := range hosts {
		out[netip.MustParseAddr(x.IP)] = x
	}
	return out, stderr
}

// TestLabHomeLANNamesEveryHost is issue 11's home LAN: every host that any
// source can name is named, with its names in the documented order and
// their sources, through the resolver of the scanning host's resolv.conf.
func TestLabHomeLANNamesEveryHost(t *testing.T) {
	home := newHomeLAN(t)
	got, stderr := sweepNames(t, home.scanner)
	if len(got) != len(home.lab.Hosts)-1 {
		t.Fatalf("found %d hosts, want %d; stderr:\n%s", len(got), len(home.lab.Hosts)-1, stderr)
	}
	named := 0
	for a, want := range home.want {
		g := got[a]
		var wantNames []string
		wantSources := make(map[string]string)
		for _, ns := range want {
			wantNames = append(wantNames, ns[0])
			wantSources[ns[0]] = ns[1]
		}
		if len(want) > 0 {
			named++
		}
		if !slices.Equal(g.Names, wantNames) || len(want) > 0 && !maps.Equal(g.Sources, wantSources) {
			t.Errorf("%v: names %v sources %v, want %v %v", a, g.Names, g.Sources, wantNames, wantSources)
		}
	}
	if named != 13 {
		t.Errorf("the lab has %d nameable hosts, want 13", named)
	}
	if wg := got[home.lab.Hosts[14].Addr].Workgroup; wg != "LABGROUP" {
		t.Errorf("samba15's workgroup = %q, want LABGROUP", wg)
	}
}

// TestLabNameSourcesCanBeTurnedOff checks --no-rdns and --no-netbios, and
// --dns on a host whose resolv.conf names no server.
func TestLabNameSourcesCanBeTurnedOff(t *testing.T) {
	home := newHomeLAN(t)
	router, samba := home.lab.Hosts[0].Addr, home.lab.Hosts[14].Addr
	got, _ := sweepNames(t, home.scanner, "--no-rdns", "--no-netbios")
	for a, h := range got {
		for _, n := range h.Names {
			if !strings.HasSuffix(n, ".local") || h.Sources[n] != "mdns" {
				t.Errorf("--no-rdns --no-netbios: %v named %q (%s), want mDNS names only", a, n, h.Sources[n])
			}
		}
	}
	got, _ = sweepNames(t, home.scanner, "--no-netbios")
	if n := got[samba].Names; len(n) != 0 {
		t.Errorf("--no-netbios: samba15 named %v", n)
	}
	if n := got[router].Names; !slices.Equal(n, []string{"router.lan"}) {
		t.Errorf("--no-netbios: router named %v, want router.lan", n)
	}
	// Host 16 has no DNS server of its own: only --dns gives DNS names.
	other := home.lab.Hosts[15]
	got, stderr := sweepNames(t, other, "-v")
	if n := got[router].Names; len(n) != 0 {
		t.Errorf("without a DNS server the router is named %v", n)
	}
	if !strings.Contains(stderr, "reverse DNS skipped") {
		t.Errorf("no -v note that reverse DNS was skipped:\n%s", stderr)
	}
	got, _ = sweepNames(t, other, "--dns", router.String())
	if n := got[router].Names; !slices.Equal(n, []string{"router.lan"}) {
		t.Errorf("--dns %v: router named %v, want router.lan", router, n)
	}
}

// TestLabSilentDNSServerCostsLittle points --dns at an address where no
// server answers: the sweep still names hosts from the other sources, and
// takes at most about the reverse DNS timeout longer than without it.
func TestLabSilentDNSServerCostsLittle(t *testing.T) {
	home := newHomeLAN(t)
	silent := home.lab.Addr(200) // no host there
	start := time.Now()
	sweepNames(t, home.scanner, "--no-rdns")
	base := time.Since(start)
	start = time.Now()
	got, _ := sweepNames(t, home.scanner, "--dns", silent.String())
	took := time.Since(start)
	if n := got[home.lab.Hosts[14].Addr].Names; !slices.Equal(n, []string{"samba15"}) {
		t.Errorf("samba15 named %v with a silent DNS server", n)
	}
	t.Logf("sweep without reverse DNS %v, with a silent DNS server %v", base, took)
	if took > base+3*time.Second {
		t.Errorf("sweep with a silent DNS server took %v, without reverse DNS %v: want at most about 1 s more", took, base)
	}
}
