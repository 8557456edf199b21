package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// Set MDNS_DEBUG=1 to see the child's debug log.
//
// The lab test runs the browse in a child process started inside lab host
// 0's network namespace (`ip netns exec`), so that every thread sends mDNS
// only into the lab. The child refuses to run unless it sees the lab
// address.

const mdnsChildEnv = "IPFINDER_SCAN_MDNS_LAB_CHILD"

// mdnsChildJob is what the parent asks the child to do.
type mdnsChildJob struct {
	Iface    string
	Addr     netip.Addr // the child's lab address, checked before any packet is sent
	Feed     []netip.Addr
	NoBrowse bool
	Runs     int
}

type mdnsChildResult struct {
	Hosts   [][]MDNSHost
	Elapsed []time.Duration
}

const childMarker = "MDNS-CHILD-RESULT "

func TestMDNSLabChild(t *testing.T) {
	raw := os.Getenv(mdnsChildEnv)
	if raw == "" {
		t.Skip("runs only as the child of TestBrowseMDNSLab")
	}
	var job mdnsChildJob
	if err := json.Unmarshal([]byte(raw), &job); err != nil {
		t.Fatal(err)
	}
	ifi, err := labInterface(job.Iface, job.Addr)
	if err != nil {
		t.Fatal(err)
	}
	var res mdnsChildResult
	for range job.Runs {
		addrs := make(chan netip.Addr, len(job.Feed))
		for _, a := range job.Feed {
			addrs <- a
		}
		close(addrs)
		b, err := DialMDNS(ifi)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range b.socks {
			if !s.unicast {
				t.Errorf("DialMDNS did not get port 5353 for %v in a namespace where nothing else holds it", s.group)
			}
		}
		var cfg *MDNSConfig
		if os.Getenv("MDNS_DEBUG") != "" {
			cfg = &MDNSConfig{Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))}
		}
		b.noBrowse = job.NoBrowse
		start := time.Now()
		hosts, err := b.Browse(t.Context(), addrs, cfg)
		b.Close()
		if err != nil {
			t.Fatal(err)
		}
		res.Elapsed = append(res.Elapsed, time.Since(start))
		res.Hosts = append(res.Hosts, hosts)
	}
	out, _ := json.Marshal(res)
	fmt.Printf("%s%s\n", childMarker, out)
}

// labInterface returns the interface named name, if it carries addr: the
// proof that this process runs inside the lab.
func labInterface(name string, addr netip.Addr) (*net.Interface, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, err
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return nil, err
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr() == addr {
			return ifi, nil
		}
	}
	return nil, fmt.Errorf("%s does not carry %v: not inside the lab, refusing to send mDNS", name, addr)
}

// runChild runs the named test of this binary inside h's namespace with
// env set to job, and returns the line after marker.
func runChild(t *testing.T, h *lab.Host, test, env, marker string, job any) []byte {
	t.Helper()
	out, err := childResult(t.Context(), h, test, env, marker, job)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// childResult is runChild for any goroutine.
func childResult(ctx context.Context, h *lab.Host, test, env, marker string, job any) ([]byte, error) {
	raw, err := json.Marshal(job)
	if err != nil {
		return nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := h.Command(ctx, exe, "-test.run=^"+test+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), env+"="+string(raw))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("child: %w\n%s", err, out)
	}
	if os.Getenv("MDNS_DEBUG") != "" {
		fmt.Fprintf(os.Stderr, "child output:\n%s", out)
	}
	for line := range bytes.Lines(out) {
		if rest, ok := bytes.CutPrefix(line, []byte(marker)); ok {
			return rest, nil
		}
	}
	return nil, fmt.Errorf("child printed no result:\n%s", out)
}

// skipUnlessAvahiLab skips a lab test in the child process it starts, and
// where avahi-daemon is missing (failing under CI=true).
func skipUnlessAvahiLab(t *testing.T) {
	t.Helper()
	if os.Getenv(mdnsChildEnv) != "" {
		t.Skip("child process")
	}
	if _, err := exec.LookPath("avahi-daemon"); err != nil {
		lab.SkipOrFail(t, "avahi-daemon not installed (Debian: apt install avahi-daemon)")
	}
}

func TestBrowseMDNSLab(t *testing.T) {
	skipUnlessAvahiLab(t)
	l := lab.New(t, lab.Config{Hosts: 5})
	h := l.Hosts
	starts := []struct {
		host     *lab.Host
		name     string
		services []lab.Service
	}{
		{h[1], "labhost2", []lab.Service{{Type: "_ssh._tcp", Port: 22, Name: "ssh on labhost2"}}},
		{h[2], "labhost3", []lab.Service{{Type: "_http._tcp", Port: 80, Name: "web on labhost3"}, {Type: "_ssh._tcp", Port: 22}}},
		{h[3], "labhost4", nil},
		// h[4] runs no responder: its reverse lookup stays unanswered.
	}
	for _, s := range starts {
		if err := s.host.StartAvahi(s.name, s.services...); err != nil {
			t.Fatal(err)
		}
	}
	ws := "_workstation._tcp" // avahi's publish-workstation
	// avahi reports startup complete before it has probed for its services:
	// wait until a browse finds everything, then measure.
	// avahi publishes AAAA records of every IPv6 address over IPv4 too.
	browsed := []MDNSHost{
		{Addr: h[1].Addr, Names: []string{"labhost2.local"}, Services: []string{"_ssh._tcp", ws}, IPv6: ipv6Addrs(t, h[1])},
		{Addr: h[2].Addr, Names: []string{"labhost3.local"}, Services: []string{"_http._tcp", "_ssh._tcp", ws}, IPv6: ipv6Addrs(t, h[2])},
		{Addr: h[3].Addr, Names: []string{"labhost4.local"}, Services: []string{ws}, IPv6: ipv6Addrs(t, h[3])},
	}
	var reversed []MDNSHost
	for _, b := range browsed {
		reversed = append(reversed, MDNSHost{Addr: b.Addr, Names: b.Names})
	}
	var all []netip.Addr
	for _, x := range h[1:] {
		all = append(all, x.Addr)
	}
	waitForResponders(t, h[0], browsed)
	tests := []struct {
		name      string
		job       mdnsChildJob
		want      []MDNSHost
		namesOnly bool // services and AAAA records may be overheard from answers to earlier browses
	}{
		{name: "browse", job: mdnsChildJob{Runs: 3}, want: browsed},
		{name: "browse_and_reverse", job: mdnsChildJob{Runs: 3, Feed: all}, want: browsed},
		{name: "reverse_only", job: mdnsChildJob{Runs: 1, Feed: all, NoBrowse: true}, want: reversed, namesOnly: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.job.Iface, tt.job.Addr = h[0].Iface, h[0].Addr
			var res mdnsChildResult
			if err := json.Unmarshal(runChild(t, h[0], "TestMDNSLabChild", mdnsChildEnv, childMarker, tt.job), &res); err != nil {
				t.Fatal(err)
			}
			for i, got := range res.Hosts {
				if tt.namesOnly {
					for j := range got {
						got[j].Services, got[j].IPv6 = nil, nil
					}
				}
				if diff := cmp.Diff(tt.want, got, cmpAddr); diff != "" {
					t.Errorf("run %d (-want +got):\n%s", i, diff)
				}
			}
			t.Logf("browse times: %v", res.Elapsed)
			if m := slices.Max(res.Elapsed); m > 1500*time.Millisecond {
				t.Errorf("slowest browse took %v, want at most the 1 s timeout (+ slack)", m)
			}
		})
	}
}

// ipv6Addrs returns h's IPv6 addresses, sorted, as a browse on another
// host's eth0 reports them.
func ipv6Addrs(t *testing.T, h *lab.Host) []netip.Addr {
	t.Helper()
	addrs, err := h.IPv6Addrs()
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	return addrs
}

// waitForResponders polls with browses from h until one finds want.
func waitForResponders(t *testing.T, h *lab.Host, want []MDNSHost) {
	t.Helper()
	job := mdnsChildJob{Iface: h.Iface, Addr: h.Addr, Runs: 1}
	lab.Eventually(t, 15*time.Second, "every avahi responder", func() error {
		var res mdnsChildResult
		if err := json.Unmarshal(runChild(t, h, "TestMDNSLabChild", mdnsChildEnv, childMarker, job), &res); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, res.Hosts[0], cmpAddr); diff != "" {
			return fmt.Errorf("(-want +got):\n%s", diff)
		}
		return nil
	})
}

// TestBrowseMDNSLabOtherInterface browses on a second interface of lab
// host 0 while another process browses its LAN (eth0), whose answers are
// multicast on eth0: the second browse must hear none of them.
func TestBrowseMDNSLabOtherInterface(t *testing.T) {
	skipUnlessAvahiLab(t)
	l := lab.New(t, lab.Config{Hosts: 2})
	h0, h1 := l.Hosts[0], l.Hosts[1]
	if err := h1.StartAvahi("labhost2", lab.Service{Type: "_ssh._tcp", Port: 22}); err != nil {
		t.Fatal(err)
	}
	other := netip.MustParseAddr("198.51.100.1")
	for _, args := range [][]string{
		{"link", "add", "eth1", "type", "veth", "peer", "name", "eth1p"},
		{"addr", "add", other.String() + "/24", "dev", "eth1"},
		{"link", "set", "eth1", "up"},
		{"link", "set", "eth1p", "up"},
	} {
		if out, err := h0.Command(t.Context(), "ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	lan := []MDNSHost{{Addr: h1.Addr, Names: []string{"labhost2.local"}, Services: []string{"_ssh._tcp", "_workstation._tcp"}, IPv6: ipv6Addrs(t, h1)}}
	waitForResponders(t, h0, lan)

	otherDone := make(chan error, 1)
	var otherRes mdnsChildResult
	go func() {
		out, err := childResult(t.Context(), h0, "TestMDNSLabChild", mdnsChildEnv, childMarker,
			mdnsChildJob{Iface: "eth1", Addr: other, Runs: 3})
		if err == nil {
			err = json.Unmarshal(out, &otherRes)
		}
		otherDone <- err
	}()
	var lanRes mdnsChildResult
	out := runChild(t, h0, "TestMDNSLabChild", mdnsChildEnv, childMarker, mdnsChildJob{Iface: h0.Iface, Addr: h0.Addr, Runs: 3})
	if err := json.Unmarshal(out, &lanRes); err != nil {
		t.Fatal(err)
	}
	if err := <-otherDone; err != nil {
		t.Fatal(err)
	}
	for i, got := range lanRes.Hosts {
		if diff := cmp.Diff(lan, got, cmpAddr); diff != "" {
			t.Errorf("eth0 run %d (-want +got):\n%s", i, diff)
		}
	}
	for i, got := range otherRes.Hosts {
		if len(got) != 0 {
			t.Errorf("eth1 run %d heard eth0's answers: %v", i, got)
		}
	}
}
