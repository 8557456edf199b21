//go:build linux

package sdjoincmd

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// healBound is how soon after a partition heals every node must list the
// truth again.
const healBound = 5 * time.Second

// TestLabNetsplit cuts a six-node lab cluster in two, changes services on
// both sides while it is split, heals it, and checks that every node lists
// exactly the truth within healBound. The split lasts 8 s (long enough for
// each side to declare the other dead); NETSPLIT_SPLIT=60s runs the long
// version by hand. Missing peers are retried only every 30 s, the default,
// so healing comes from the tracker itself.
func TestLabNetsplit(t *testing.T) {
	t.Parallel()
	split := 8 * time.Second
	if s := os.Getenv("NETSPLIT_SPLIT"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("NETSPLIT_SPLIT=%q: %v", s, err)
		}
		split = d
	}
	l := lab.New(t, lab.Config{Hosts: 6})
	agents, all := startLabCluster(t, l)
	sideA, sideB := agents[:3], agents[3:]

	if err := l.Partition(l.Hosts[:3], l.Hosts[3:]); err != nil {
		t.Fatal(err)
	}
	splitAt := time.Now()
	// Each side sees the other's entries hidden once it declares it dead.
	waitAll(t, sideA, split, all[:3]...)
	waitAll(t, sideB, split, all[3:]...)
	// Changes on both sides while split.
	if code, _, errs := runCLI(context.Background(), "track", "extra", "--socket", sideA[0].sock); code != 0 {
		t.Fatalf("track extra: exit %d: %s", code, errs)
	}
	if code, _, errs := runCLI(context.Background(), "untrack", "svc", "--socket", sideB[2].sock); code != 0 {
		t.Fatalf("untrack svc: exit %d: %s", code, errs)
	}
	time.Sleep(time.Until(splitAt.Add(split))) // the split lasts its full length

	if err := l.Heal(); err != nil {
		t.Fatal(err)
	}
	healed := time.Now()
	wantSvc, wantExtra := all[:5], all[:1]
	for _, a := range agents {
		waitFor(t, healBound, a.name+" listing the truth after the heal", func() bool {
			return slices.Equal(a.list(t), wantSvc) && slices.Equal(a.listService(t, "extra"), wantExtra)
		})
	}
	t.Logf("split %v; every node listed the truth %v after the heal", split, time.Since(healed).Round(time.Millisecond))
}

// TestLabCrashHidden kills one of four real agents with SIGKILL: the
// others hide its entry within the LAN profile's 3 s.
func TestLabCrashHidden(t *testing.T) {
	t.Parallel()
	l := lab.New(t, lab.Config{Hosts: 4})
	agents, all := startLabCluster(t, l)
	victim, others := agents[3], agents[:3]
	if err := victim.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	waitAll(t, others, 3*time.Second, all[:3]...)
	took := time.Since(killed)
	if took > 3*time.Second {
		t.Errorf("a SIGKILLed agent was hidden everywhere only %v after the kill, want 3 s", took)
	}
	t.Logf("a SIGKILLed agent was hidden everywhere %v after the kill", took.Round(time.Millisecond))
}

// startLabCluster runs an agent on every lab host, with a hostfile listing
// them all and the default 30 s peer retry (healing must come from the
// tracker), and waits until every agent lists every node. all holds the
// node names in host order.
func startLabCluster(t *testing.T, l *lab.Lab) (agents []*labAgent, all []string) {
	t.Helper()
	var addrs []netip.Addr
	for _, h := range l.Hosts {
		addrs = append(addrs, h.Addr)
	}
	hostfile := labHostfile(t, addrs...)
	for i, h := range l.Hosts {
		a := startLabAgent(t, h, fmt.Sprintf("n%d", i+1), hostfile, "--retry-interval", "30s")
		agents = append(agents, a)
		all = append(all, a.node(h.Addr))
	}
	waitAll(t, agents, 15*time.Second, all...)
	return agents, all
}
