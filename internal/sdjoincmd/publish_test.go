package sdjoincmd

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/ipfinder-go/ipfinder/internal/discover"
)

// TestInstances: only entries with a port and a valid DNS-SD service
// name are published, one instance per entry, with distinct names for a
// session's entry; the others come with why.
func TestInstances(t *testing.T) {
	node := "n1@192.0.2.1"
	entries := map[entryID]record{
		{"web", trackKey}:     {Service: "web", Key: trackKey, Node: node, Meta: map[string]string{"port": "80", "zone": "a"}},
		{"web", "session-3"}:  {Service: "web", Key: "session-3", Node: node, Meta: map[string]string{"port": "81"}},
		{"db", trackKey}:      {Service: "db", Key: trackKey, Node: node, Meta: map[string]string{"role": "x"}},
		{"my_svc", trackKey}:  {Service: "my_svc", Key: trackKey, Node: node, Meta: map[string]string{"port": "1"}},
		{"api", trackKey}:     {Service: "api", Key: trackKey, Node: node, Meta: map[string]string{"port": "http"}},
		{"big", trackKey}:     {Service: "big", Key: trackKey, Node: node, Meta: map[string]string{"port": "65536"}},
		{"long", "session-1"}: {Service: "long", Key: "session-1", Node: node, Meta: map[string]string{"port": "9", "k": strings.Repeat("v", 300)}},
	}
	got, why := instances(entries)
	want := []discover.Instance{
		{Name: node + " (session-1)", Service: "long", Port: 9, TXT: []string{"port=9"}},
		{Name: node, Service: "web", Port: 80, TXT: []string{"port=80", "zone=a"}},
		{Name: node + " (session-3)", Service: "web", Port: 81, TXT: []string{"port=81"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("instances (-want +got):\n%s", diff)
	}
	var warned []string
	for _, w := range why {
		warned = append(warned, w.service)
	}
	if diff := cmp.Diff([]string{"api", "big", "my_svc"}, warned); diff != "" {
		t.Errorf("services warned about (-want +got):\n%s", diff)
	}
}

// TestInstanceNameBounded: a long node name is cut to a valid, distinct
// instance name.
func TestInstanceNameBounded(t *testing.T) {
	long := strings.Repeat("é", 40) + "@192.0.2.1"
	a, b := instanceName(long, trackKey), instanceName(long, "session-1")
	for _, n := range []string{a, b} {
		if len(n) > discover.MaxInstanceLabel || !utf8.ValidString(n) {
			t.Errorf("instanceName = %q (%d bytes), want valid UTF-8 of at most %d bytes", n, len(n), discover.MaxInstanceLabel)
		}
	}
	if a == b {
		t.Errorf("two entries of one node share the instance name %q", a)
	}
}

// TestPublisherOffWithoutDiscovery: --no-discover (every root-namespace
// test agent) and --no-publish leave the publisher out.
func TestPublisherOffWithoutDiscovery(t *testing.T) {
	for _, o := range []agentOptions{{discover: false, publish: true}, {discover: true, publish: false}} {
		if c := newCore(&o, newHub(), func(string, ...any) {}, nil); c.pub != nil {
			t.Errorf("discover %v, publish %v: publisher on", o.discover, o.publish)
		}
	}
	o := agentOptions{discover: true, publish: true}
	if c := newCore(&o, newHub(), func(string, ...any) {}, nil); c.pub == nil {
		t.Error("discover and publish: publisher off")
	}
}
