package rename

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// fakeSource serves addresses set by the test, and address events the
// test triggers.
type fakeSource struct {
	mu          sync.Mutex
	snap        snapshot
	unsupported bool
	subs        int
	hints       chan struct{} // of the live subscription
	closed      bool
}

func (f *fakeSource) set(addrs ...ifaceAddr) {
	f.mu.Lock()
	f.snap = snapshot{addrs: addrs}
	f.mu.Unlock()
}

func (f *fakeSource) read() (snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.snap, nil
}

func (f *fakeSource) subscribe() (<-chan struct{}, func(), error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.unsupported {
		return nil, nil, errors.ErrUnsupported
	}
	f.subs++
	hints := make(chan struct{}, 1)
	f.hints = hints
	return hints, sync.OnceFunc(func() { f.end(hints) }), nil
}

// event sends an address event on the live subscription.
func (f *fakeSource) event() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.hints != nil {
		select {
		case f.hints <- struct{}{}:
		default:
		}
	}
}

// end ends a subscription, as netlink does on a buffer overflow.
func (f *fakeSource) end(hints chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.hints == hints {
		close(hints)
		f.hints = nil
	}
}

func (f *fakeSource) subscriptions() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.subs
}

func (f *fakeSource) close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

// quick are settings for tests: short debounce, no grace, no safety poll.
func quick() settings {
	s, _ := (&Config{Debounce: 20 * time.Millisecond, Grace: -1, Poll: -1}).settings()
	return s
}

func startFake(t *testing.T, set settings, src *fakeSource) *Watcher {
	t.Helper()
	w, err := start(context.Background(), set, src)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func waitChange(t *testing.T, w *Watcher, within time.Duration) Change {
	t.Helper()
	select {
	case c, ok := <-w.Changes():
		if !ok {
			t.Fatal("Changes closed")
		}
		return c
	case <-time.After(within):
		t.Fatalf("no change within %v", within)
	}
	return Change{}
}

// current is a condition for lab.Eventually: w's current address is want.
func current(w *Watcher, want netip.Addr) func() error {
	return func() error {
		if got := w.Current(); got != want {
			return fmt.Errorf("Current = %v", got)
		}
		return nil
	}
}

var (
	ipA = netip.MustParseAddr("192.0.2.10")
	ipB = netip.MustParseAddr("192.0.2.20")
	ipC = netip.MustParseAddr("192.0.2.30")
)

func TestWatcherReportsChange(t *testing.T) {
	src := &fakeSource{}
	src.set(addr(2, "192.0.2.10/24", 0))
	w := startFake(t, quick(), src)
	if got := w.Current(); got != ipA {
		t.Fatalf("Current = %v, want %v", got, ipA)
	}
	src.set(addr(2, "192.0.2.20/24", 0))
	src.event()
	if c := waitChange(t, w, 2*time.Second); c != (Change{Old: ipA, New: ipB}) {
		t.Fatalf("change = %+v", c)
	}
	if got := w.Current(); got != ipB {
		t.Fatalf("Current = %v, want %v", got, ipB)
	}
}

func TestWatcherCoalescesForSlowReader(t *testing.T) {
	src := &fakeSource{}
	src.set(addr(2, "192.0.2.10/24", 0))
	w := startFake(t, quick(), src)
	for _, next := range []string{"192.0.2.20/24", "192.0.2.30/24"} {
		src.set(addr(2, next, 0))
		src.event()
		want := netip.MustParsePrefix(next).Addr()
		lab.Eventually(t, 2*time.Second, "Current "+want.String(), current(w, want))
	}
	if c := waitChange(t, w, time.Second); c != (Change{Old: ipA, New: ipC}) {
		t.Fatalf("change = %+v, want {%v %v}", c, ipA, ipC)
	}
	// Back and forth while unread cancels out.
	src.set(addr(2, "192.0.2.20/24", 0))
	src.event()
	lab.Eventually(t, 2*time.Second, "Current B", current(w, ipB))
	src.set(addr(2, "192.0.2.30/24", 0))
	src.event()
	lab.Eventually(t, 2*time.Second, "Current C", current(w, ipC))
	select {
	case c := <-w.Changes():
		t.Fatalf("unexpected change %+v", c)
	default:
	}
}

func TestWatcherResubscribes(t *testing.T) {
	src := &fakeSource{}
	src.set(addr(2, "192.0.2.10/24", 0))
	w := startFake(t, quick(), src)
	src.mu.Lock()
	hints := src.hints
	src.mu.Unlock()
	src.end(hints)
	lab.Eventually(t, 2*time.Second, "a second subscription", func() error {
		if n := src.subscriptions(); n != 2 {
			return fmt.Errorf("%d subscriptions", n)
		}
		return nil
	})
	src.set(addr(2, "192.0.2.20/24", 0))
	src.event()
	if c := waitChange(t, w, 2*time.Second); c != (Change{Old: ipA, New: ipB}) {
		t.Fatalf("change = %+v", c)
	}
}

func TestWatcherPollsWithoutEvents(t *testing.T) {
	src := &fakeSource{unsupported: true}
	set := quick()
	set.poll = 20 * time.Millisecond
	w := startFake(t, set, src)
	if w.Current().IsValid() {
		t.Fatalf("Current = %v, want none", w.Current())
	}
	src.set(addr(2, "192.0.2.10/24", 0))
	if c := waitChange(t, w, 2*time.Second); c != (Change{New: ipA}) {
		t.Fatalf("change = %+v", c)
	}
	src.set()
	if c := waitChange(t, w, 2*time.Second); c != (Change{Old: ipA}) {
		t.Fatalf("change = %+v", c)
	}
}

func TestWatcherClose(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tests := []struct {
		name string
		stop func(*Watcher)
	}{
		{name: "close_twice", stop: func(w *Watcher) { w.Close(); w.Close() }},
		{name: "context_done", stop: func(*Watcher) { cancel() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &fakeSource{}
			w, err := start(ctx, quick(), src)
			if err != nil {
				t.Fatal(err)
			}
			tt.stop(w)
			for range w.Changes() {
			}
			w.Close()
			src.mu.Lock()
			defer src.mu.Unlock()
			if !src.closed || src.hints != nil {
				t.Errorf("source closed %v, subscription live %v", src.closed, src.hints != nil)
			}
		})
	}
}

func TestConfigFamily(t *testing.T) {
	snap := snapshot{
		addrs:    []ifaceAddr{addr(2, "192.0.2.10/24", 0), addr(3, "2001:db8::10/64", 0), addr(4, "198.51.100.4/24", 0)},
		default4: 4,
		default6: 3,
	}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{name: "default_prefers_ipv4_default_route", want: "198.51.100.4"},
		{name: "ipv4", cfg: Config{Family: 4}, want: "198.51.100.4"},
		{name: "ipv6", cfg: Config{Family: 6}, want: "2001:db8::10"},
		{name: "interface", cfg: Config{Interface: "eth2"}, want: "192.0.2.10"},
		{name: "interface_without_family", cfg: Config{Interface: "eth3", Family: 4}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := tt.cfg.settings()
			if err != nil {
				t.Fatal(err)
			}
			var want netip.Addr
			if tt.want != "" {
				want = netip.MustParseAddr(tt.want)
			}
			if got := set.choose(snap); got != want {
				t.Errorf("choose = %v, want %v", got, want)
			}
		})
	}
	if _, err := (&Config{Family: 5}).settings(); err == nil {
		t.Error("Family 5 accepted")
	}
}
