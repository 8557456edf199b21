//go:build linux

package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
)

// ping reports whether from gets an echo reply from to. Asking for
// reachable it tries for up to 5 s: after a failed attempt the kernel keeps
// retrying ARP only once a second. Asking for unreachable, one echo request
// unanswered for a second suffices.
func ping(t *testing.T, from, to *Host, reachable bool) bool {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := from.Command(ctx, "busybox", "ping", "-c", "1", "-W", "1", to.Addr.String()).Run()
		cancel()
		if err == nil || !reachable || time.Now().After(deadline) {
			return err == nil
		}
	}
}

func TestNew_hosts_reach_each_other(t *testing.T) {
	t.Parallel()
	l := New(t, Config{Hosts: 3})
	for _, h := range l.Hosts[1:] {
		if !ping(t, l.Hosts[0], h, true) {
			t.Errorf("%v cannot ping %v (%v)", l.Hosts[0], h, h.Addr)
		}
	}
}

func TestNew_addresses(t *testing.T) {
	t.Parallel()
	p := netip.MustParsePrefix("192.0.2.0/24")
	l := New(t, Config{Hosts: 2, Prefix: p})
	for i, h := range l.Hosts {
		want := netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)})
		if h.Addr != want {
			t.Errorf("host %d address %v, want %v", i, h.Addr, want)
		}
		var got []string
		err := h.Do(func() error {
			ifi, err := net.InterfaceByName("eth0")
			if err != nil {
				return err
			}
			if ifi.HardwareAddr.String() != h.MAC.String() {
				t.Errorf("%v eth0 MAC %v, want %v", h, ifi.HardwareAddr, h.MAC)
			}
			ifs, err := net.Interfaces()
			if err != nil {
				return err
			}
			for _, i := range ifs {
				if i.Flags&net.FlagUp != 0 {
					got = append(got, i.Name)
				}
			}
			addrs, err := ifi.Addrs()
			if err != nil {
				return err
			}
			var v4 []string
			for _, a := range addrs {
				if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
					v4 = append(v4, n.String())
				}
			}
			if diff := cmp.Diff([]string{want.String() + "/24"}, v4); diff != "" {
				t.Errorf("%v eth0 IPv4 addresses (-want +got):\n%s", h, diff)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"lo", "eth0"}, got); diff != "" {
			t.Errorf("%v interfaces up (-want +got):\n%s", h, diff)
		}
	}
}

func TestNew_root_namespace_untouched(t *testing.T) {
	t.Parallel()
	l := New(t, Config{Hosts: 3})
	links, err := netlink.LinkList() // the test's own (root) namespace
	if err != nil {
		t.Fatal(err)
	}
	for _, link := range links {
		for _, h := range l.Hosts {
			if link.Attrs().HardwareAddr.String() == h.MAC.String() {
				t.Errorf("root namespace has %s with lab MAC %v", link.Attrs().Name, h.MAC)
			}
		}
		if link.Attrs().Name == "br0" {
			t.Errorf("root namespace has the lab bridge")
		}
	}
}

func TestDo_restores_namespace(t *testing.T) {
	t.Parallel()
	l := New(t, Config{Hosts: 1})
	before, err := statNS("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	want := errors.New("from fn")
	var inside nsID
	err = l.Hosts[0].Do(func() error {
		inside, err = statNS("/proc/thread-self/ns/net")
		return want
	})
	if !errors.Is(err, want) {
		t.Errorf("Do returned %v, want fn's error", err)
	}
	hostNS, _ := statNS(filepath.Join(nsDir, l.Hosts[0].Name))
	if inside != hostNS {
		t.Errorf("fn ran in namespace %v, want the host's %v", inside, hostNS)
	}
	after, _ := statNS("/proc/thread-self/ns/net")
	if after != before {
		t.Errorf("caller's namespace changed by Do")
	}
}

func TestClose_kills_and_deletes(t *testing.T) {
	t.Parallel()
	l := New(t, Config{Hosts: 2})
	h := l.Hosts[0]
	started := h.Command(context.Background(), "sleep", "600")
	if err := h.Start(started); err != nil {
		t.Fatal(err)
	}
	stray := h.Command(context.Background(), "sleep", "600") // not given to Start
	if err := stray.Start(); err != nil {
		t.Fatal(err)
	}
	// Close finds strays by namespace: wait until `ip netns exec` entered it.
	Eventually(t, 5*time.Second, "the stray command in the host's namespace", func() error {
		pids, err := nsPIDs([]string{h.Name})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(pids, stray.Process.Pid) {
			return fmt.Errorf("pid %d not among %v", stray.Process.Pid, pids)
		}
		return nil
	})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := started.Wait(); err == nil {
		t.Error("started command exited cleanly, want killed")
	}
	if err := stray.Wait(); err == nil {
		t.Error("stray command exited cleanly, want killed")
	}
	for _, name := range append([]string{l.bridgeNS}, h.Name, l.Hosts[1].Name) {
		if _, err := os.Stat(filepath.Join(nsDir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("namespace %s left after Close: %v", name, err)
		}
	}
	if err := h.Start(h.Command(context.Background(), "true")); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close = %v, want ErrClosed", err)
	}
}

func TestHostAddrs(t *testing.T) {
	tests := []struct {
		name    string
		prefix  string
		n       int
		first   string
		last    string
		wantErr bool
	}{
		{"slash24", "192.0.2.0/24", 3, "192.0.2.1", "192.0.2.3", false},
		{"slash24_full", "192.0.2.0/24", 254, "192.0.2.1", "192.0.2.254", false},
		{"slash24_too_many", "192.0.2.0/24", 255, "", "", true},
		{"slash16_sequential", "198.51.0.0/16", 300, "198.51.0.1", "198.51.1.44", false},
		{"unmasked", "192.0.2.77/24", 1, "192.0.2.1", "192.0.2.1", false},
		{"ipv6", "2001:db8::/64", 1, "", "", true},
		{"zero_hosts", "192.0.2.0/24", 0, "", "", true},
		{"slash31", "192.0.2.0/31", 1, "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := hostAddrs(netip.MustParsePrefix(tt.prefix), tt.n)
			if tt.wantErr {
				if err == nil {
					t.Errorf("hostAddrs = %v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.n || got[0].String() != tt.first || got[len(got)-1].String() != tt.last {
				t.Errorf("hostAddrs = %d addresses %v..%v, want %d %s..%s", len(got), got[0], got[len(got)-1], tt.n, tt.first, tt.last)
			}
		})
	}
}

func TestHostMAC(t *testing.T) {
	got := hostMAC(netip.MustParseAddr("192.0.2.7")).String()
	if want := "02:00:c0:00:02:07"; got != want {
		t.Errorf("hostMAC = %s, want %s", got, want)
	}
}

// BenchmarkStart measures building labs of several sizes (ns/op), plus
// closing them (close-ms/op), and checks the last host is reachable.
func BenchmarkStart(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("lab: needs root")
	}
	for _, n := range []int{20, 60, 300} {
		b.Run(fmt.Sprintf("hosts_%d", n), func(b *testing.B) {
			p := netip.MustParsePrefix("10.77.0.0/16")
			var closing time.Duration
			for b.Loop() {
				l, err := Start(Config{Hosts: n, Prefix: p})
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				last := l.Hosts[n-1].Addr.String()
				if out, err := l.Hosts[0].Command(ctx, "busybox", "ping", "-c1", "-W1", last).CombinedOutput(); err != nil {
					b.Errorf("ping %s: %v\n%s", last, err, out)
				}
				cancel()
				start := time.Now()
				if err := l.Close(); err != nil {
					b.Fatal(err)
				}
				closing += time.Since(start)
				b.StartTimer()
			}
			b.ReportMetric(float64(closing.Milliseconds())/float64(b.N), "close-ms/op")
		})
	}
}

func TestHost_WaitDAD(t *testing.T) {
	t.Parallel()
	l := New(t, Config{Hosts: 1})
	h := l.Hosts[0]
	if err := h.WaitDAD(); err != nil {
		t.Fatal(err)
	}
	out, err := h.Command(context.Background(), "ip", "-6", "addr", "show", "dev", h.Iface).CombinedOutput()
	if err != nil {
		t.Fatalf("ip -6 addr: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "fe80::") || strings.Contains(string(out), "tentative") {
		t.Errorf("after WaitDAD, want a link-local address that is not tentative:\n%s", out)
	}
}
