//go:build linux

package scan

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// labSweep sweeps h's subnet from inside h's network namespace, as
// ipfinder would with default targets.
func labSweep(t *testing.T, h *lab.Host, cfg *ARPConfig) []ARPReply {
	t.Helper()
	var replies []ARPReply
	err := h.Do(func() error {
		ifaces, err := Interfaces()
		if err != nil {
			return err
		}
		plans, err := Targets(ifaces, nil, nil, false)
		if err != nil {
			return err
		}
		if len(plans) != 1 || plans[0].Iface.Name != h.Iface || !slices.Contains(plans[0].Iface.Addrs, netipPrefixOf(h, plans[0])) {
			return fmt.Errorf("not inside lab host %s: plans %+v", h.Name, plans) // never sweep anything else
		}
		ifi, err := net.InterfaceByName(h.Iface)
		if err != nil {
			return err
		}
		replies, err = SweepARP(context.Background(), ifi, plans[0].Targets, cfg)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return replies
}

// netipPrefixOf returns h's address as it appears in the plan's interface.
func netipPrefixOf(h *lab.Host, p Plan) (out netip.Prefix) {
	for _, a := range p.Iface.Addrs {
		if a.Addr() == h.Addr {
			return a
		}
	}
	return out
}

// checkFound reports hosts missing or with the wrong MAC, and returns how
// many were found right.
func checkFound(t *testing.T, hosts []*lab.Host, replies []ARPReply) int {
	t.Helper()
	byAddr := map[string]ARPReply{}
	for _, r := range replies {
		byAddr[r.Addr.String()] = r
	}
	ok := 0
	for _, h := range hosts {
		r, found := byAddr[h.Addr.String()]
		switch {
		case !found:
			t.Logf("%s (%s) not found", h.Name, h.Addr)
		case r.MAC.String() != h.MAC.String() || len(r.Conflict) > 0:
			t.Errorf("%s: got MAC %v conflicts %v, want %v", h.Addr, r.MAC, r.Conflict, h.MAC)
		default:
			ok++
		}
	}
	if len(replies) > len(hosts) {
		t.Errorf("found %d hosts, only %d exist: %v", len(replies), len(hosts), replies)
	}
	return ok
}

func TestSweepARPLab(t *testing.T) {
	l := lab.New(t, lab.Config{Hosts: 12})
	others := l.Hosts[1:]
	start := time.Now()
	got := labSweep(t, l.Hosts[0], nil)
	t.Logf("default sweep of %v took %v", l.Prefix, time.Since(start))
	if n := checkFound(t, others, got); n != len(others) {
		t.Errorf("found %d of %d hosts", n, len(others))
	}
}

func TestSweepARPLabLoss(t *testing.T) {
	l := lab.New(t, lab.Config{Hosts: 21})
	others := l.Hosts[1:]
	for _, h := range others {
		if err := h.SetLoss(10); err != nil {
			t.Fatal(err)
		}
	}
	// Three requests each: a host is missed with probability 1/1000.
	if n := checkFound(t, others, labSweep(t, l.Hosts[0], nil)); n < len(others)-1 {
		t.Errorf("found %d of %d hosts behind 10%% loss", n, len(others))
	}
}

func TestSweepARPLabSlowHosts(t *testing.T) {
	l := lab.New(t, lab.Config{Hosts: 8})
	for _, h := range l.Hosts[1:4] {
		if err := h.StartSlowARP(300 * time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	others := l.Hosts[1:]
	if n := checkFound(t, others, labSweep(t, l.Hosts[0], nil)); n != len(others) {
		t.Errorf("found %d of %d hosts, 3 of them answering 300ms late", n, len(others))
	}
}

func TestDialARPLab(t *testing.T) {
	l := lab.New(t, lab.Config{Hosts: 1})
	h := l.Hosts[0]
	err := h.Do(func() error {
		ifi, err := net.InterfaceByName(h.Iface)
		if err != nil {
			return err
		}
		s, err := DialARP(ifi)
		if err != nil {
			return err
		}
		return s.Close()
	})
	if err != nil {
		t.Fatalf("DialARP as root in a lab host: %v", err)
	}
}

// TestSweepARPLabBudgetLoss sweeps a /20 at the wired rate behind 10%
// reply loss: 4093 targets, more silent ones than the retry budget gives
// two retries each, so most get one; the hosts are still found.
func TestSweepARPLabBudgetLoss(t *testing.T) {
	l := lab.New(t, lab.Config{Hosts: 31, Prefix: netip.MustParsePrefix("10.253.16.0/20")})
	others := l.Hosts[1:]
	for _, h := range others {
		if err := h.SetLoss(10); err != nil {
			t.Fatal(err)
		}
	}
	// Two requests each: a host is missed with probability 1/100.
	cfg := &ARPConfig{Rate: DefaultWiredARPRate}
	if n := checkFound(t, others, labSweep(t, l.Hosts[0], cfg)); n < len(others)-2 {
		t.Errorf("found %d of %d hosts behind 10%% loss", n, len(others))
	}
}
