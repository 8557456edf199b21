//go:build linux

package ipfindercmd_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// TestLabARPRateAndPriorTargets checks the knobs ipfinder gives the ARP
// sweep: the wired rate on a veth link unless --rate, and as prior targets
// the hosts of the --keep state and of the neighbour table.
func TestLabARPRateAndPriorTargets(t *testing.T) {
	l := lab.New(t, lab.Config{Hosts: 6})
	h0, dozing := l.Hosts[0], l.Hosts[4]
	dir := t.TempDir()
	out := filepath.Join(dir, "hosts")
	quiet := []string{"--no-mdns", "--no-rdns", "--no-netbios", "-v"}

	// The --keep state gets four of the five other hosts.
	if err := dozing.SetLoss(100); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := run(t, h0, dir, append([]string{"-o", out, "--keep", "1h"}, quiet...)...); code != 0 {
		t.Fatalf("first run: exit %d: %s", code, stderr)
	}
	if err := dozing.SetLoss(0); err != nil {
		t.Fatal(err)
	}
	// The neighbour table knows the fifth.
	err := h0.Do(func() error {
		link, err := netlink.LinkByName(h0.Iface)
		if err != nil {
			return err
		}
		return netlink.NeighAdd(&netlink.Neigh{LinkIndex: link.Attrs().Index, Family: netlink.FAMILY_V4,
			State: netlink.NUD_REACHABLE, IP: dozing.Addr.AsSlice(), HardwareAddr: dozing.MAC})
	})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"keep_and_neighbors", []string{"-o", out, "--keep", "1h"}, "rate=10000 prior=5"},
		{"neighbors_and_rate_flag", []string{"--rate", "700"}, "rate=700 prior=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := run(t, h0, dir, append(tt.args, quiet...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if !strings.Contains(stderr, "ARP sweep interface=eth0 targets=253 "+tt.want+"\n") {
				t.Errorf("stderr does not log the sweep's %s:\n%s", tt.want, stderr)
			}
		})
	}
}
