package lab

import (
	"strings"
	"testing"
)

func TestSetLoss(t *testing.T) {
	t.Parallel()
	needTool(t, "nft")
	l := New(t, Config{Hosts: 2})
	a, b := l.Hosts[0], l.Hosts[1]
	if err := b.SetLoss(100); err != nil {
		t.Fatal(err)
	}
	if ping(t, a, b) {
		t.Errorf("%v pings %v despite 100%% loss", a, b)
	}
	if err := b.SetLoss(0); err != nil {
		t.Fatal(err)
	}
	if !ping(t, a, b) {
		t.Errorf("%v cannot ping %v after loss removed", a, b)
	}
	if err := b.SetLoss(0); err != nil {
		t.Errorf("removing no loss: %v", err)
	}
	if err := b.SetLoss(101); err == nil {
		t.Error("SetLoss(101) succeeded, want an error")
	}
}

func TestPartition(t *testing.T) {
	t.Parallel()
	needTool(t, "nft")
	l := New(t, Config{Hosts: 4})
	h := l.Hosts
	if err := l.Partition(h[:2], h[2:3]); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		from, to *Host
		want     bool
	}{
		{"a_to_b_cut", h[0], h[2], false},
		{"b_to_a_cut", h[2], h[1], false},
		{"inside_group_a", h[0], h[1], true},
		{"outsider_to_a", h[3], h[0], true},
		{"outsider_to_b", h[3], h[2], true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := ping(t, tt.from, tt.to); got != tt.want {
				t.Errorf("ping %v -> %v = %v, want %v", tt.from, tt.to, got, tt.want)
			}
		})
	}
	t.Cleanup(func() {
		// Runs after the parallel subtests.
		if err := l.Heal(); err != nil {
			t.Fatal(err)
		}
		if !ping(t, h[0], h[2]) {
			t.Errorf("%v cannot ping %v after Heal", h[0], h[2])
		}
	})
}

func TestPartitionScript(t *testing.T) {
	l := &Lab{}
	hosts := []*Host{{port: "h1", lab: l}, {port: "h2", lab: l}, {port: "h3", lab: l}}
	got := partitionScript([][2][]*Host{{hosts[:2], hosts[2:]}})
	for _, want := range []string{
		"delete table bridge ipfl\n",
		`iifname { "h1", "h2" } oifname { "h3" } drop`,
		`iifname { "h3" } oifname { "h1", "h2" } drop`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("script lacks %q:\n%s", want, got)
		}
	}
}
