package rename

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ipfinder-go/ipfinder/internal/lab"
	"github.com/ipfinder-go/ipfinder/internal/rtnl"
)

func TestDefaultIndex(t *testing.T) {
	mt := uint32(unix.RT_TABLE_MAIN)
	for _, tc := range []struct {
		name   string
		routes []rtnl.Route
		want   int
	}{
		{"none", nil, 0},
		{"lowest_metric", []rtnl.Route{{Table: mt, Index: 2, Priority: 600}, {Table: mt, Index: 3, Priority: 100}, {Table: mt, Index: 4, Priority: 300}}, 3},
		{"not_default_or_main_or_cached", []rtnl.Route{
			{Table: mt, DstLen: 24, Index: 2},
			{Table: 100, Index: 3},
			{Table: mt, Index: 4, Cloned: true},
			{Table: mt, Index: 0}, // unreachable: no interface
			{Table: mt, Index: 5, Priority: 900},
		}, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := defaultIndex(tc.routes); got != tc.want {
				t.Errorf("defaultIndex = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestNetlinkSourceKeepsNamespace checks that a source opened inside a
// namespace reads it and subscribes to it from any thread, as a
// resubscription from Watcher.run does.
func TestNetlinkSourceKeepsNamespace(t *testing.T) {
	l := lab.New(t, lab.Config{Hosts: 1})
	h := l.Hosts[0]
	var src source
	if err := h.Do(func() (err error) {
		src, err = openSource(slog.New(slog.DiscardHandler), 0)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer src.close()

	gw := h.Addr.Next()
	cmd := h.Command(context.Background(), "ip", "route", "add", "default", "via", gw.String(), "dev", "eth0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	snap, err := src.read()
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(snap.addrs, func(a ifaceAddr) bool { return a.Prefix.Addr() == h.Addr })
	if i < 0 {
		t.Fatalf("lab address %v not read: %+v", h.Addr, snap.addrs)
	}
	if a := snap.addrs[i]; a.Ifname != "eth0" || snap.default4 != a.Ifindex {
		t.Errorf("read %+v with default route on %d, want on eth0 and the default route's", a, snap.default4)
	}

	hints, stop, err := src.subscribe() // on this goroutine's thread, outside the namespace
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	cmd = h.Command(context.Background(), "ip", "addr", "add", "192.0.2.1/24", "dev", "eth0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	select {
	case <-hints:
	case <-time.After(5 * time.Second):
		t.Fatal("no event from the namespace")
	}
	stop()
	if _, ok := <-hints; ok {
		t.Fatal("hints still open after stop")
	}
}
