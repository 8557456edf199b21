package ipfindercmd

import (
	"net/netip"
	"slices"
	"testing"
)

func TestPriorTargets(t *testing.T) {
	targets := []netip.Addr{addr("192.0.2.2"), addr("192.0.2.3"), addr("192.0.2.4"), addr("192.0.2.5")}
	neigh := []netip.Addr{addr("192.0.2.5"), addr("198.51.100.7"), addr("::ffff:192.0.2.3")}
	kept := []netip.Addr{addr("192.0.2.3"), addr("192.0.2.1"), addr("2001:db8::1")}
	want := []netip.Addr{addr("192.0.2.3"), addr("192.0.2.5")}
	if got := priorTargets(targets, neigh, kept); !slices.Equal(got, want) {
		t.Errorf("priorTargets = %v, want %v", got, want)
	}
	if got := priorTargets(targets); len(got) != 0 {
		t.Errorf("priorTargets without lists = %v, want none", got)
	}
}
