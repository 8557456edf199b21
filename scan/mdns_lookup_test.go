package scan

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
)

func TestMDNSLookup(t *testing.T) {
	dropFirst := func(_ dns.Question, n int) bool { return n == 1 }
	tests := []struct {
		name  string
		names []string
		drop  func(dns.Question, int) bool
		want  map[string][]netip.Addr
		asked []string // A questions sent, each at least once
	}{
		{
			name:  "all_answered",
			names: []string{"labhost2.local", "LabHost3.local."},
			want: map[string][]netip.Addr{
				"labhost2.local":  {netip.MustParseAddr("192.0.2.2")},
				"LabHost3.local.": {netip.MustParseAddr("192.0.2.3")},
			},
			asked: []string{"labhost2.local.", "labhost3.local."},
		},
		{
			name:  "first_answer_lost",
			names: []string{"labhost2.local"},
			drop:  dropFirst,
			want:  map[string][]netip.Addr{"labhost2.local": {netip.MustParseAddr("192.0.2.2")}},
			asked: []string{"labhost2.local."},
		},
		{
			name:  "unknown_and_invalid",
			names: []string{"nas.local", "bad name.local", "labhost2.local"},
			want:  map[string][]netip.Addr{"labhost2.local": {netip.MustParseAddr("192.0.2.2")}},
			asked: []string{"nas.local.", "labhost2.local."},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			link := newFakeMDNSLink(t, ephemeral, true, labZone...)
			link.drop = tt.drop
			got, err := NewMDNS(link).Lookup(context.Background(), tt.names, quickCfg)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpAddr); diff != "" {
				t.Errorf("Lookup(%q) (-want +got):\n%s", tt.names, diff)
			}
			for _, n := range tt.asked {
				if link.queries(question(n, dns.TypeA)) == 0 {
					t.Errorf("no A query for %s", n)
				}
			}
			if n := link.queries(question(servicesName, dns.TypePTR)); n != 0 {
				t.Errorf("Lookup browsed services (%d queries)", n)
			}
			if n := link.queries(reverseQuestion(netip.MustParseAddr("192.0.2.2"))); n != 0 {
				t.Errorf("Lookup sent %d reverse queries", n)
			}
		})
	}
}

// TestMDNSLookupBounded: a lookup of names nobody answers ends after the
// retransmission and the quiet period, long before the timeout; one whose
// context is cancelled returns at once with ctx.Err().
func TestMDNSLookupBounded(t *testing.T) {
	link := newFakeMDNSLink(t, ephemeral, true, labZone...)
	start := time.Now()
	got, err := NewMDNS(link).Lookup(context.Background(), []string{"nas.local"}, quickCfg)
	if err != nil || len(got) != 0 {
		t.Fatalf("Lookup(nas.local) = %v, %v; want nothing, no error", got, err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("unanswered lookup took %v, want it to end once quiet", took)
	}
	if n := link.queries(question("nas.local.", dns.TypeA)); n != 2 {
		t.Errorf("A nas.local sent %d times, want 2", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := NewMDNS(link).Lookup(ctx, []string{"nas.local"}, quickCfg); err != context.Canceled {
		t.Errorf("cancelled Lookup: err %v, want context.Canceled", err)
	}
}
