package rename_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/lab"
	"github.com/ipfinder-go/ipfinder/rename"
)

// labDebounce and labGrace keep the lab tests short.
const (
	labDebounce = 200 * time.Millisecond
	labGrace    = 300 * time.Millisecond
	// labMargin covers reading the addresses and scheduling.
	labMargin = 800 * time.Millisecond
)

// watchIn starts a Watcher inside h's network namespace.
func watchIn(t *testing.T, h *lab.Host, cfg *rename.Config) *rename.Watcher {
	t.Helper()
	var w *rename.Watcher
	err := h.Do(func() error {
		var err error
		w, err = rename.Watch(context.Background(), cfg)
		return err
	})
	if err != nil {
		t.Fatalf("Watch in %s: %v", h.Name, err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// identityIn runs Identity inside h's network namespace.
func identityIn(t *testing.T, h *lab.Host, cfg *rename.Config) netip.Addr {
	t.Helper()
	var a netip.Addr
	err := h.Do(func() error {
		var err error
		a, err = rename.Identity(cfg)
		return err
	})
	if err != nil {
		t.Fatalf("Identity in %s: %v", h.Name, err)
	}
	return a
}

// expectChange waits for the next Change and checks it. It returns how
// long the change took from since.
func expectChange(t *testing.T, w *rename.Watcher, want rename.Change, since time.Time, within time.Duration) time.Duration {
	t.Helper()
	select {
	case got, ok := <-w.Changes():
		if !ok {
			t.Fatal("Changes closed")
		}
		took := time.Since(since)
		if got != want {
			t.Fatalf("change = {%v %v}, want {%v %v}", got.Old, got.New, want.Old, want.New)
		}
		if w.Current() != want.New {
			t.Fatalf("Current = %v, want %v", w.Current(), want.New)
		}
		return took
	case <-time.After(within):
		t.Fatalf("no change within %v, want {%v %v}", within, want.Old, want.New)
	}
	return 0
}

// expectNoChange checks that no Change comes for d.
func expectNoChange(t *testing.T, w *rename.Watcher, d time.Duration) {
	t.Helper()
	select {
	case got := <-w.Changes():
		t.Fatalf("unexpected change {%v %v}", got.Old, got.New)
	case <-time.After(d):
	}
}

func TestLabIPv4(t *testing.T) {
	lab.NeedTools(t, "ip")
	l := lab.New(t, lab.Config{Hosts: 1})
	h := l.Hosts[0]
	bits := l.Prefix.Bits()
	a, b, c := h.Addr, l.Addr(20), l.Addr(30)
	cidr := func(x netip.Addr) string { return netip.PrefixFrom(x, bits).String() }

	w := watchIn(t, h, &rename.Config{Debounce: labDebounce, Grace: labGrace})
	if w.Current() != a {
		t.Fatalf("Current = %v, want the lab address %v", w.Current(), a)
	}
	debounced := labDebounce + labMargin
	lost := labDebounce + labGrace + labMargin

	start := time.Now()
	lab.Shell(t, h, "ip addr del "+cidr(a)+" dev eth0 && ip addr add "+cidr(b)+" dev eth0")
	took := expectChange(t, w, rename.Change{Old: a, New: b}, start, debounced)
	t.Logf("replace: change after %v", took)
	expectNoChange(t, w, debounced)

	lab.Shell(t, h, "ip addr del "+cidr(b)+" dev eth0 && ip addr add "+cidr(b)+" dev eth0")
	expectNoChange(t, w, lost)

	lab.Shell(t, h, "sysctl -qw net.ipv4.conf.eth0.promote_secondaries=1 && ip addr add "+cidr(c)+" dev eth0")
	if out := lab.Shell(t, h, "ip -4 addr show dev eth0 secondary"); !strings.Contains(out, c.String()) {
		t.Fatalf("%v is not secondary:\n%s", c, out)
	}
	expectNoChange(t, w, debounced)
	start = time.Now()
	lab.Shell(t, h, "ip addr del "+cidr(b)+" dev eth0")
	took = expectChange(t, w, rename.Change{Old: b, New: c}, start, debounced)
	t.Logf("promotion: change after %v", took)

	start = time.Now()
	lab.Shell(t, h, "ip -4 addr flush dev eth0")
	took = expectChange(t, w, rename.Change{Old: c}, start, lost)
	t.Logf("flush: change after %v", took)

	start = time.Now()
	lab.Shell(t, h, "ip addr add "+cidr(a)+" dev eth0")
	took = expectChange(t, w, rename.Change{New: a}, start, debounced)
	t.Logf("add back: change after %v", took)
}

func TestLabIPv6PrivacyAndTentative(t *testing.T) {
	lab.NeedTools(t, "ip")
	l := lab.New(t, lab.Config{Hosts: 1})
	h := l.Hosts[0]
	stable := netip.MustParseAddr("2001:db8:1::ffff:ffff:ffff:fff0")
	w := watchIn(t, h, &rename.Config{Debounce: labDebounce, Grace: labGrace, Family: 6})
	if w.Current().IsValid() {
		t.Fatalf("Current = %v, want none (link-local only)", w.Current())
	}

	// The kernel makes a privacy address from a mngtmpaddr one; its
	// random interface ID is below stable's, so only the filter keeps it
	// out.
	start := time.Now()
	lab.Shell(t, h, "sysctl -qw net.ipv6.conf.eth0.use_tempaddr=2 && ip -6 addr add "+stable.String()+"/64 dev eth0 mngtmpaddr")
	took := expectChange(t, w, rename.Change{New: stable}, start, 5*time.Second)
	t.Logf("stable IPv6 after DAD: change after %v", took)
	lab.Eventually(t, 10*time.Second, "a privacy address", func() error {
		out := lab.Shell(t, h, "ip -6 addr show dev eth0 temporary -tentative")
		if !strings.Contains(out, "2001:db8:1:") {
			return fmt.Errorf("none in:\n%s", lab.Shell(t, h, "ip -6 addr show dev eth0"))
		}
		t.Logf("privacy address:\n%s", out)
		return nil
	})
	expectNoChange(t, w, labDebounce+labMargin)

	// With a 30 s DAD retransmit time, a new address stays tentative.
	lab.Shell(t, h, "sysctl -qw net.ipv6.neigh.eth0.retrans_time_ms=30000 && ip -6 addr add 2001:db8:1::1/64 dev eth0")
	if out := lab.Shell(t, h, "ip -6 addr show dev eth0 tentative"); !strings.Contains(out, "2001:db8:1::1/64") {
		t.Fatalf("2001:db8:1::1 not tentative:\n%s", out)
	}
	expectNoChange(t, w, labDebounce+labMargin)
	if w.Current() != stable {
		t.Fatalf("Current = %v, want %v", w.Current(), stable)
	}
}

func TestLabDefaultRoute(t *testing.T) {
	lab.NeedTools(t, "ip")
	l := lab.New(t, lab.Config{Hosts: 1})
	h := l.Hosts[0]
	other := netip.MustParseAddr("198.51.100.1")
	// A second interface with a higher index: without a default route the
	// identity stays on eth0.
	lab.Shell(t, h, "ip link add rn0 type veth peer name rn1 && ip link set rn1 up && ip link set rn0 up && ip addr add 198.51.100.1/24 dev rn0")
	w := watchIn(t, h, &rename.Config{Debounce: labDebounce, Grace: labGrace, Poll: -1})
	if w.Current() != h.Addr {
		t.Fatalf("Current = %v, want %v", w.Current(), h.Addr)
	}
	// A route event alone (no safety poll) moves the identity.
	start := time.Now()
	lab.Shell(t, h, "ip route add default via 198.51.100.2 dev rn0")
	took := expectChange(t, w, rename.Change{Old: h.Addr, New: other}, start, labDebounce+labMargin)
	t.Logf("default route moved: change after %v", took)
	// Identity, read once, applies the same policy: memberlist's first
	// private address (eth0's) is not it.
	if got := identityIn(t, h, &rename.Config{Family: 4}); got != other {
		t.Fatalf("Identity = %v, want %v", got, other)
	}
	start = time.Now()
	lab.Shell(t, h, "ip route del default && ip route add default via "+l.Addr(200).String()+" dev eth0")
	expectChange(t, w, rename.Change{Old: other, New: h.Addr}, start, labDebounce+labMargin)
}
