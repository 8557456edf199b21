package sdjoincmd

import (
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPeerName(t *testing.T) {
	tests := []struct {
		peer   string
		want   namedPeer
		wantOK bool
	}{
		{"192.0.2.1:4369", namedPeer{}, false},
		{"[2001:db8::1]:4369", namedPeer{}, false},
		{"NAS.Local.:4369", namedPeer{"nas.local", 4369}, true},
		{"peer2.lan:7946", namedPeer{"peer2.lan", 7946}, true},
		{"noport", namedPeer{}, false},
		{"host:99999", namedPeer{}, false},
	}
	for _, tt := range tests {
		got, ok := peerName(tt.peer)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("peerName(%q) = %v, %v; want %v, %v", tt.peer, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestExpandPeers(t *testing.T) {
	a1, a2 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	self := func(p netip.AddrPort) bool { return p == netip.AddrPortFrom(a2, 7946) }
	peers := []string{"198.51.100.1:7946", "nas.local:7946", "both.lan:7946", "gone.lan:7946", "192.0.2.1:7946", "both.lan:1"}
	addrs := map[string][]netip.Addr{"nas.local": {a1}, "both.lan": {a1, a2}}
	want := []string{"198.51.100.1:7946", "192.0.2.1:7946", "192.0.2.1:1", "192.0.2.2:1"}
	if diff := cmp.Diff(want, expandPeers(peers, addrs, self)); diff != "" {
		t.Errorf("expandPeers (-want +got):\n%s", diff)
	}
}

// TestResolveLoopbackWarnsOnce: advertising a loopback address, .local
// names are not looked up (no multicast from the machine's own
// interfaces); each gets one warning naming it and saying why, not one
// per retry, and address peers are kept.
func TestResolveLoopbackWarnsOnce(t *testing.T) {
	var warnings []string
	c := newCore(&agentOptions{retry: time.Second}, newHub(), func(f string, args ...any) {
		warnings = append(warnings, fmt.Sprintf(f, args...))
	}, slog.New(slog.DiscardHandler))
	peers := []string{"nas.local:7946", "192.0.2.1:7946", "printer.local:7946"}
	for range 3 {
		got := c.resolvePeers(t.Context(), peers, netip.MustParseAddr("127.0.0.1"), nil)
		if !slices.Equal(got, []string{"192.0.2.1:7946"}) {
			t.Fatalf("resolvePeers = %q, want only the address peer", got)
		}
	}
	if len(warnings) != 2 {
		t.Fatalf("%d warnings, want 2 (one per name):\n%s", len(warnings), strings.Join(warnings, "\n"))
	}
	for i, name := range []string{"nas.local", "printer.local"} {
		if w := warnings[i]; !strings.Contains(w, name) || !strings.Contains(w, "loopback") {
			t.Errorf("warning %q does not name %s and the loopback address", w, name)
		}
	}
}
