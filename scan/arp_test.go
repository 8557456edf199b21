package scan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/ethernet"
)

var (
	ourMAC  = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
	ourAddr = netip.MustParsePrefix("192.0.2.1/24")
)

func mac(last byte) net.HardwareAddr { return net.HardwareAddr{0x02, 0, 0, 0, 1, last} }

// subnet24 returns 192.0.2.2 to 192.0.2.254.
func subnet24() []netip.Addr {
	var out []netip.Addr
	for a := netip.MustParseAddr("192.0.2.2"); a != netip.MustParseAddr("192.0.2.255"); a = a.Next() {
		out = append(out, a)
	}
	return out
}

func newFakeScanner(t *testing.T) (*ARPScanner, *fakeLAN) {
	t.Helper()
	lan := newFakeLAN(ourMAC)
	s, err := NewARP(lan, ourMAC, []netip.Prefix{ourAddr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		lan.timers.Wait()
	})
	return s, lan
}

// found maps each address found to its MAC and conflicts, as strings.
func found(replies []ARPReply) map[string][]string {
	out := map[string][]string{}
	for _, r := range replies {
		macs := []string{r.MAC.String()}
		for _, c := range r.Conflict {
			macs = append(macs, c.String())
		}
		out[r.Addr.String()] = macs
	}
	return out
}

func TestSweep(t *testing.T) {
	tests := []struct {
		name  string
		hosts map[string][]*fakeHost
		cfg   ARPConfig
		want  map[string][]string
	}{
		{
			name: "clean",
			hosts: map[string][]*fakeHost{
				"192.0.2.2":   {{mac: mac(2)}},
				"192.0.2.77":  {{mac: mac(77)}},
				"192.0.2.254": {{mac: mac(254)}},
			},
			cfg: ARPConfig{Timeout: 100 * time.Millisecond},
			want: map[string][]string{
				"192.0.2.2":   {"02:00:00:00:01:02"},
				"192.0.2.77":  {"02:00:00:00:01:4d"},
				"192.0.2.254": {"02:00:00:00:01:fe"},
			},
		},
		{
			name: "retries_recover_lost_replies",
			hosts: map[string][]*fakeHost{
				"192.0.2.10": {{mac: mac(10), drop: 1}},
				"192.0.2.11": {{mac: mac(11), drop: 2}},
				"192.0.2.12": {{mac: mac(12), drop: 3}}, // three requests, three losses
			},
			cfg: ARPConfig{Timeout: 150 * time.Millisecond, Rate: 1e6},
			want: map[string][]string{
				"192.0.2.10": {"02:00:00:00:01:0a"},
				"192.0.2.11": {"02:00:00:00:01:0b"},
			},
		},
		{
			name: "no_retries",
			hosts: map[string][]*fakeHost{
				"192.0.2.10": {{mac: mac(10), drop: 1}},
				"192.0.2.11": {{mac: mac(11)}},
			},
			cfg:  ARPConfig{Timeout: 60 * time.Millisecond, Retries: -1},
			want: map[string][]string{"192.0.2.11": {"02:00:00:00:01:0b"}},
		},
		{
			name: "conflict",
			hosts: map[string][]*fakeHost{
				// 150 ms apart: a loaded CI machine delayed the first by 10 ms
				"192.0.2.20": {{mac: mac(20)}, {mac: mac(21), delay: 150 * time.Millisecond}},
			},
			cfg:  ARPConfig{Timeout: 400 * time.Millisecond},
			want: map[string][]string{"192.0.2.20": {"02:00:00:00:01:14", "02:00:00:00:01:15"}},
		},
		{
			name: "late_reply_with_defaults",
			hosts: map[string][]*fakeHost{
				"192.0.2.30": {{mac: mac(30), delay: 300 * time.Millisecond}},
			},
			want: map[string][]string{"192.0.2.30": {"02:00:00:00:01:1e"}},
		},
		{
			name: "late_reply_after_short_timeout",
			hosts: map[string][]*fakeHost{
				"192.0.2.30": {{mac: mac(30), delay: 3 * time.Second}},
				"192.0.2.31": {{mac: mac(31)}},
			},
			cfg:  ARPConfig{Timeout: 50 * time.Millisecond},
			want: map[string][]string{"192.0.2.31": {"02:00:00:00:01:1f"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, lan := newFakeScanner(t)
			for a, hs := range tt.hosts {
				for _, h := range hs {
					lan.add(a, h)
				}
			}
			got, err := s.Sweep(context.Background(), subnet24(), &tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, found(got)); diff != "" {
				t.Errorf("found (-want +got):\n%s", diff)
			}
			if !slices.IsSortedFunc(got, func(a, b ARPReply) int { return a.Addr.Compare(b.Addr) }) {
				t.Errorf("replies not sorted: %v", got)
			}
		})
	}
}

func TestSweepAsksSilentTargetsOnly(t *testing.T) {
	s, lan := newFakeScanner(t)
	lan.add("192.0.2.5", &fakeHost{mac: mac(5)})
	lan.add("192.0.2.6", &fakeHost{mac: mac(6), drop: 1})
	cfg := &ARPConfig{Timeout: 90 * time.Millisecond, Retries: 2, Rate: 1e6}
	if _, err := s.Sweep(context.Background(), subnet24(), cfg); err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]int{"192.0.2.5": 1, "192.0.2.6": 2, "192.0.2.7": 3, "192.0.2.254": 3} {
		if got := lan.askedFor(addr); got != want {
			t.Errorf("%s asked %d times, want %d", addr, got, want)
		}
	}
}

func TestSweepLossyLAN(t *testing.T) {
	// 10% loss on every reply: three requests miss one host in a thousand.
	s, lan := newFakeScanner(t)
	targets := subnet24()
	for _, a := range targets[:200] {
		lan.add(a.String(), &fakeHost{mac: mac(a.As4()[3]), loss: 0.1})
	}
	got, err := s.Sweep(context.Background(), targets, &ARPConfig{Timeout: 200 * time.Millisecond, Rate: 20000})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) < 198 {
		t.Errorf("found %d of 200 hosts behind 10%% loss, want at least 198", len(got))
	}
}

func TestSweepMeasuresRTT(t *testing.T) {
	s, lan := newFakeScanner(t)
	lan.add("192.0.2.40", &fakeHost{mac: mac(40), delay: 30 * time.Millisecond})
	got, err := s.Sweep(context.Background(), []netip.Addr{netip.MustParseAddr("192.0.2.40")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].RTT < 30*time.Millisecond || got[0].RTT > time.Second {
		t.Errorf("got %+v, want one reply with RTT of about 30ms", got)
	}
}

func TestSweepEndsEarlyWhenAllAnswered(t *testing.T) {
	s, lan := newFakeScanner(t)
	lan.add("192.0.2.40", &fakeHost{mac: mac(40)})
	start := time.Now()
	got, err := s.Sweep(context.Background(), []netip.Addr{netip.MustParseAddr("192.0.2.40")}, &ARPConfig{Timeout: time.Minute})
	if err != nil || len(got) != 1 {
		t.Fatalf("got %v, %v; want one reply", got, err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("sweep took %v although its only target answered", d)
	}
}

func TestSweepIgnoresNoise(t *testing.T) {
	s, lan := newFakeScanner(t)
	lan.add("192.0.2.50", &fakeHost{mac: mac(50)})
	other := netip.MustParseAddr("198.51.100.7")
	target := netip.MustParseAddr("192.0.2.60")
	noise := [][]byte{
		nil,
		{0xff},
		make([]byte, 14),
		make([]byte, 60),
		arpFrame(2, mac(9), other, ourMAC, ourAddr.Addr())[:30],                    // truncated
		arpFrame(2, mac(9), other, ourMAC, ourAddr.Addr()),                         // not a target
		arpFrame(1, mac(9), netip.IPv4Unspecified(), nil, target),                  // ARP probe
		arpFrame(2, net.HardwareAddr{1, 0, 0x5e, 0, 0, 1}, target, ourMAC, target), // multicast MAC
		arpFrame(2, make(net.HardwareAddr, 6), target, ourMAC, target),             // zero MAC
		arpFrame(3, mac(9), target, ourMAC, target),                                // unknown operation
		arpFrame(1, ourMAC, target, nil, target),                                   // our own MAC
	}
	// Wrong hardware/protocol types and lengths.
	for _, off := range []int{15, 16, 18, 19} {
		f := arpFrame(2, mac(9), target, ourMAC, target)
		f[off] ^= 0x40
		noise = append(noise, f)
	}
	for _, f := range noise {
		lan.inject(f)
	}
	got, err := s.Sweep(context.Background(), subnet24(), &ARPConfig{Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string][]string{"192.0.2.50": {"02:00:00:00:01:32"}}, found(got)); diff != "" {
		t.Errorf("found (-want +got):\n%s", diff)
	}
}

func TestSweepRecordsAnnouncements(t *testing.T) {
	s, lan := newFakeScanner(t)
	target := netip.MustParseAddr("192.0.2.70") // never answers requests
	lan.inject(arpFrame(1, mac(70), target, make(net.HardwareAddr, 6), target))
	got, err := s.Sweep(context.Background(), []netip.Addr{target}, &ARPConfig{Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string][]string{"192.0.2.70": {"02:00:00:00:01:46"}}, found(got)); diff != "" {
		t.Errorf("found (-want +got):\n%s", diff)
	}
}

func TestClaimBeforeRequest(t *testing.T) {
	target := netip.MustParseAddr("192.0.2.70")
	sw := &arpSweep{addrs: []netip.Addr{target}, state: make([]arpTarget, 1), maxTries: 3}
	sw.claim(arpEvent{addr: target, mac: [6]byte(mac(70)), at: time.Now()}, time.Now().Add(-time.Second))
	want := []ARPReply{{Addr: target, MAC: mac(70)}}
	if diff := cmp.Diff(want, sw.results(), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("replies (-want +got):\n%s", diff)
	}
	if sw.settled != 1 {
		t.Errorf("settled = %d, want 1", sw.settled)
	}
}

func TestSweepRate(t *testing.T) {
	s, lan := newFakeScanner(t)
	// 100 requests at 200/s: a burst of 50, then 50 more take 250ms.
	targets := subnet24()[:100]
	if _, err := s.Sweep(context.Background(), targets, &ARPConfig{Rate: 200, Retries: -1, Timeout: 10 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	lan.mu.Lock()
	defer lan.mu.Unlock()
	if len(lan.sendTimes) != 100 {
		t.Fatalf("sent %d requests, want 100", len(lan.sendTimes))
	}
	if d := lan.sendTimes[99].Sub(lan.sendTimes[0]); d < 240*time.Millisecond {
		t.Errorf("100 requests at 200/s with a burst of 50 took %v, want at least 250ms", d)
	}
}

func TestSweepProgress(t *testing.T) {
	s, lan := newFakeScanner(t)
	lan.add("192.0.2.3", &fakeHost{mac: mac(3)})
	var calls [][2]int
	cfg := &ARPConfig{Timeout: 120 * time.Millisecond, Rate: 500, Progress: func(done, total int) {
		calls = append(calls, [2]int{done, total})
	}}
	if _, err := s.Sweep(context.Background(), subnet24(), cfg); err != nil {
		t.Fatal(err)
	}
	if len(calls) < 2 || calls[len(calls)-1] != [2]int{253, 253} {
		t.Fatalf("progress calls %v, want several ending in [253 253]", calls)
	}
	for i := 1; i < len(calls); i++ {
		if calls[i][0] < calls[i-1][0] || calls[i][1] != 253 {
			t.Errorf("progress went from %v to %v", calls[i-1], calls[i])
		}
	}
}

func TestSweepCancel(t *testing.T) {
	s, lan := newFakeScanner(t)
	lan.add("192.0.2.2", &fakeHost{mac: mac(2)})
	ctx, cancel := context.WithCancel(context.Background())
	cfg := &ARPConfig{Timeout: time.Hour, Progress: func(done, total int) {
		if done > 0 {
			cancel()
		}
	}}
	got, err := s.Sweep(ctx, subnet24(), cfg)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if len(got) != 1 {
		t.Errorf("got %v, want the one host found before the cancel", got)
	}
	// The scanner can sweep again after a cancel.
	if got, err := s.Sweep(context.Background(), subnet24()[:1], &ARPConfig{Timeout: 50 * time.Millisecond}); err != nil || len(got) != 1 {
		t.Errorf("second sweep: %v, %v; want one reply", got, err)
	}
}

func TestSweepErrors(t *testing.T) {
	t.Run("read_fails", func(t *testing.T) {
		s, lan := newFakeScanner(t)
		lan.Close()
		if _, err := s.Sweep(context.Background(), subnet24(), nil); !errors.Is(err, net.ErrClosed) {
			t.Errorf("err = %v, want net.ErrClosed", err)
		}
	})
	t.Run("write_fails", func(t *testing.T) {
		s, lan := newFakeScanner(t)
		lan.writeErr = errors.New("link down")
		if _, err := s.Sweep(context.Background(), subnet24(), nil); err == nil {
			t.Error("sweep with a failing link succeeded")
		}
	})
	t.Run("ipv6_target", func(t *testing.T) {
		s, _ := newFakeScanner(t)
		if _, err := s.Sweep(context.Background(), []netip.Addr{netip.MustParseAddr("2001:db8::1")}, nil); err == nil {
			t.Error("sweep of an IPv6 address succeeded")
		}
	})
	t.Run("negative_rate", func(t *testing.T) {
		s, _ := newFakeScanner(t)
		if _, err := s.Sweep(context.Background(), subnet24(), &ARPConfig{Rate: -1}); err == nil {
			t.Error("sweep with a negative rate succeeded")
		}
	})
	t.Run("no_targets", func(t *testing.T) {
		s, _ := newFakeScanner(t)
		if got, err := s.Sweep(context.Background(), nil, nil); err != nil || got != nil {
			t.Errorf("got %v, %v; want nothing", got, err)
		}
	})
}

func TestNewARP(t *testing.T) {
	tests := []struct {
		name  string
		mac   net.HardwareAddr
		addrs []netip.Prefix
	}{
		{"short_mac", net.HardwareAddr{1, 2, 3}, []netip.Prefix{ourAddr}},
		{"no_ipv4", ourMAC, []netip.Prefix{netip.MustParsePrefix("2001:db8::1/64")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewARP(newFakeLAN(ourMAC), tt.mac, tt.addrs); err == nil {
				t.Error("NewARP succeeded")
			}
		})
	}
}

func TestSource(t *testing.T) {
	s, err := NewARP(newFakeLAN(ourMAC), ourMAC, []netip.Prefix{
		netip.MustParsePrefix("2001:db8::1/64"),
		netip.MustParsePrefix("192.0.2.1/24"),
		netip.MustParsePrefix("198.51.100.9/24"),
	})
	if err != nil {
		t.Fatal(err)
	}
	for target, want := range map[string]string{
		"192.0.2.77":    "192.0.2.1",
		"198.51.100.20": "198.51.100.9",
		"203.0.113.5":   "192.0.2.1", // not on-link: the first address
	} {
		if got := s.source(netip.MustParseAddr(target)); got.String() != want {
			t.Errorf("source(%s) = %v, want %s", target, got, want)
		}
	}
}

func TestARPRequestParses(t *testing.T) {
	f, err := arpRequest(ourMAC, ourAddr.Addr(), netip.MustParseAddr("192.0.2.9"))
	if err != nil {
		t.Fatal(err)
	}
	want := arpFrame(1, ourMAC, ourAddr.Addr(), make(net.HardwareAddr, 6), netip.MustParseAddr("192.0.2.9"))
	copy(want[0:6], ethernet.Broadcast) // the frame is broadcast, the ARP target unknown
	if len(f) != 60 || !bytes.Equal(f[:42], want) || !bytes.Equal(f[42:], make([]byte, 18)) {
		t.Errorf("arpRequest = %x, want %x padded with zeros to 60 bytes", f, want)
	}
	ev, ok := parseARPFrame(f)
	if !ok || ev.addr != ourAddr.Addr() || ev.mac != [6]byte(ourMAC) || ev.reply {
		t.Errorf("parseARPFrame(request) = %+v, %v", ev, ok)
	}
}

func FuzzParseARPFrame(f *testing.F) {
	target := netip.MustParseAddr("192.0.2.60")
	f.Add(arpFrame(2, mac(9), target, ourMAC, ourAddr.Addr()))
	f.Add(arpFrame(1, mac(9), target, nil, target))
	f.Add(arpFrame(1, mac(9), netip.IPv4Unspecified(), nil, target))
	f.Add([]byte{})
	f.Add(make([]byte, 14))
	vlan := append([]byte{}, arpFrame(2, mac(9), target, ourMAC, ourAddr.Addr())...)
	vlan = append(vlan[:12], append([]byte{0x81, 0x00, 0x00, 0x05}, vlan[12:]...)...)
	f.Add(vlan)
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, ok := parseARPFrame(b)
		if !ok {
			return
		}
		if !ev.addr.Is4() || ev.addr.IsUnspecified() || ev.mac == [6]byte{} || ev.mac[0]&1 != 0 {
			t.Errorf("parseARPFrame(%x) accepted %+v", b, ev)
		}
		// The claim survives the sweep's bookkeeping.
		sw := &arpSweep{addrs: []netip.Addr{ev.addr}, state: make([]arpTarget, 1), maxTries: 3}
		sw.claim(ev, time.Now())
		sw.claim(ev, time.Now())
		if len(sw.found) != 1 || len(sw.found[0].Conflict) != 0 {
			t.Errorf("claim twice: %+v", sw.found)
		}
	})
}

// subnet22 returns 10.0.0.1 to 10.0.3.254.
func subnet22() []netip.Addr {
	var out []netip.Addr
	for a := netip.MustParseAddr("10.0.0.1"); a != netip.MustParseAddr("10.0.3.255"); a = a.Next() {
		out = append(out, a)
	}
	return out
}

func TestSweepPriorFirst(t *testing.T) {
	s, lan := newFakeScanner(t)
	targets := subnet22()
	prior := []netip.Addr{netip.MustParseAddr("10.0.3.200"), netip.MustParseAddr("10.0.2.1"), netip.MustParseAddr("192.0.2.99")}
	// 1022 silent targets at 2000/s: the first pass outlasts the 10ms
	// between requests to one target, so prior retries go during it and
	// the others' retries after it.
	cfg := &ARPConfig{Timeout: 30 * time.Millisecond, Retries: 2, Rate: 2000, Prior: prior}
	if _, err := s.Sweep(context.Background(), targets, cfg); err != nil {
		t.Fatal(err)
	}
	lan.mu.Lock()
	sent := slices.Clone(lan.sent)
	lan.mu.Unlock()

	wantFirst := []netip.Addr{prior[1], prior[0]}
	if !slices.Equal(sent[:2], wantFirst) {
		t.Errorf("first requests went to %v, want %v", sent[:2], wantFirst)
	}
	// nth returns the position in sent of the n-th request to a, or -1.
	nth := func(a netip.Addr, n int) int {
		for i, b := range sent {
			if b == a {
				if n--; n == 0 {
					return i
				}
			}
		}
		return -1
	}
	firstOtherRetry := len(sent)
	for _, a := range targets {
		if !slices.Contains(prior, a) {
			if i := nth(a, 2); i >= 0 {
				firstOtherRetry = min(firstOtherRetry, i)
			}
		}
	}
	for _, a := range wantFirst {
		if i := nth(a, 2); i < 0 || i > firstOtherRetry {
			t.Errorf("second request to prior %v at %d, want before the first other retry at %d", a, i, firstOtherRetry)
		}
		if got := lan.askedFor(a.String()); got != 3 {
			t.Errorf("prior %v asked %d times, want 3", a, got)
		}
	}
	if got := lan.askedFor("192.0.2.99"); got != 0 {
		t.Errorf("prior 192.0.2.99 is no target but was asked %d times", got)
	}
	// The retry budget, one retry per target (Rate allows fewer in
	// Timeout), gives every silent target a second request and no more
	// than that in all; prior retries are not charged to it.
	if max := 2*len(targets) + 4; len(sent) > max {
		t.Errorf("sent %d requests, want at most %d", len(sent), max)
	}
	for _, a := range targets {
		if got := lan.askedFor(a.String()); got < 2 {
			t.Errorf("silent %v asked %d times, want at least 2", a, got)
			break
		}
	}
}

func TestPick(t *testing.T) {
	const gap = 10 * time.Millisecond
	// Targets 0 and 1 are prior, 2 to 7 are not; 0 to 5 are in a /24
	// where a target answered, 6 and 7 in one where none did; the first
	// pass is at target next (8: done); far retries stop at 2 s, twice the
	// planned 1 s.
	tests := []struct {
		name       string
		now        time.Duration
		next       int
		spent      bool // the retry budget
		priorRetry []arpRetry
		retries    []arpRetry
		promoted   []arpRetry
		far        []arpRetry
		answered   []int
		want       int
		wantQueue  string
	}{
		{name: "prior_retry_before_first", now: 50 * time.Millisecond, next: 4,
			priorRetry: []arpRetry{{idx: 1, due: 40 * time.Millisecond}},
			retries:    []arpRetry{{idx: 2, due: 10 * time.Millisecond}},
			want:       1, wantQueue: "prior"},
		{name: "prior_retry_not_due", now: 5 * time.Millisecond, next: 4,
			priorRetry: []arpRetry{{idx: 1, due: 10 * time.Millisecond}},
			want:       4, wantQueue: "first"},
		{name: "first_before_overdue_retry", now: 50 * time.Millisecond, next: 4,
			retries: []arpRetry{{idx: 2, due: 10 * time.Millisecond}},
			want:    4, wantQueue: "first"},
		{name: "retry_after_first_pass", now: 50 * time.Millisecond, next: 8,
			retries: []arpRetry{{idx: 2, due: 10 * time.Millisecond}},
			want:    2, wantQueue: "other"},
		{name: "retry_not_due", now: 50 * time.Millisecond, next: 8,
			retries: []arpRetry{{idx: 2, due: 60 * time.Millisecond}},
			want:    -1, wantQueue: "first"},
		{name: "answered_skipped", now: 50 * time.Millisecond, next: 4,
			priorRetry: []arpRetry{{idx: 0, due: 10 * time.Millisecond}},
			retries:    []arpRetry{{idx: 2, due: 10 * time.Millisecond}, {idx: 3, due: 10 * time.Millisecond}},
			answered:   []int{0, 2, 4, 5, 6, 7},
			want:       3, wantQueue: "other"},
		{name: "budget_spent", now: 50 * time.Millisecond, next: 8, spent: true,
			retries: []arpRetry{{idx: 2, due: 10 * time.Millisecond}},
			want:    -1, wantQueue: "first"},
		{name: "budget_spares_prior", now: 50 * time.Millisecond, next: 8, spent: true,
			priorRetry: []arpRetry{{idx: 1, due: 10 * time.Millisecond}},
			retries:    []arpRetry{{idx: 2, due: 10 * time.Millisecond}},
			want:       1, wantQueue: "prior"},
		{name: "near_before_far", now: 50 * time.Millisecond, next: 8,
			retries: []arpRetry{{idx: 6, due: 10 * time.Millisecond}, {idx: 2, due: 20 * time.Millisecond}},
			want:    2, wantQueue: "other"},
		{name: "far_when_no_near_due", now: 50 * time.Millisecond, next: 8,
			retries: []arpRetry{{idx: 6, due: 10 * time.Millisecond}, {idx: 2, due: 60 * time.Millisecond}},
			want:    6, wantQueue: "far"},
		{name: "far_not_due", now: 5 * time.Millisecond, next: 8,
			retries: []arpRetry{{idx: 6, due: 10 * time.Millisecond}},
			want:    -1, wantQueue: "first"},
		{name: "deadline_stops_far", now: 2 * time.Second, next: 8,
			retries: []arpRetry{{idx: 6, due: 10 * time.Millisecond}},
			far:     []arpRetry{{idx: 7, due: 5 * time.Millisecond}},
			want:    -1, wantQueue: "first"},
		{name: "deadline_spares_near", now: 2 * time.Second, next: 8,
			retries: []arpRetry{{idx: 6, due: 10 * time.Millisecond}, {idx: 2, due: 10 * time.Millisecond}},
			want:    2, wantQueue: "other"},
		{name: "deadline_spares_promoted", now: 2 * time.Second, next: 8,
			promoted: []arpRetry{{idx: 3, due: 10 * time.Millisecond}},
			far:      []arpRetry{{idx: 7, due: 5 * time.Millisecond}},
			want:     3, wantQueue: "promoted"},
		{name: "promoted_before_far", now: 50 * time.Millisecond, next: 8,
			promoted: []arpRetry{{idx: 3, due: 10 * time.Millisecond}},
			far:      []arpRetry{{idx: 7, due: 5 * time.Millisecond}},
			want:     3, wantQueue: "promoted"},
		{name: "deadline_spares_prior", now: 2 * time.Second, next: 8,
			priorRetry: []arpRetry{{idx: 1, due: 10 * time.Millisecond}},
			retries:    []arpRetry{{idx: 2, due: 10 * time.Millisecond}},
			want:       1, wantQueue: "prior"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var addrs []netip.Addr
			for _, a := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5", "192.0.2.6", "198.51.100.1", "198.51.100.2"} {
				addrs = append(addrs, netip.MustParseAddr(a))
			}
			sw := &arpSweep{gap: gap, addrs: addrs, state: make([]arpTarget, 8), budget: 10,
				order: []int32{0, 1, 2, 3, 4, 5, 6, 7}, next: tt.next, planned: time.Second,
				priorRetry: tt.priorRetry, retries: tt.retries, promoted: tt.promoted, far: tt.far,
				live: map[[3]byte]bool{{192, 0, 2}: true}}
			if tt.spent {
				sw.budget = 0
			}
			sw.state[0].prior, sw.state[1].prior = true, true
			for _, i := range tt.answered {
				sw.state[i].reply = 1
			}
			idx, q := sw.pick(tt.now)
			queue := "first"
			switch q {
			case &sw.priorRetry:
				queue = "prior"
			case &sw.retries:
				queue = "other"
			case &sw.promoted:
				queue = "promoted"
			case &sw.far:
				queue = "far"
			}
			if idx != tt.want || queue != tt.wantQueue {
				t.Errorf("pick = %d from %s, want %d from %s", idx, queue, tt.want, tt.wantQueue)
			}
		})
	}
}

func TestFirstOrder(t *testing.T) {
	addrs := []netip.Addr{netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3"), netip.MustParseAddr("192.0.2.4")}
	state := make([]arpTarget, len(addrs))
	prior := []netip.Addr{netip.MustParseAddr("192.0.2.4"), netip.MustParseAddr("::ffff:192.0.2.3"), netip.MustParseAddr("198.51.100.1")}
	got := firstOrder(addrs, state, prior)
	if want := []int32{1, 2, 0}; !slices.Equal(got, want) {
		t.Errorf("firstOrder = %v, want %v", got, want)
	}
	if !state[1].prior || !state[2].prior || state[0].prior {
		t.Errorf("prior marks %+v, want targets 1 and 2", state)
	}
}

func TestRecordQueuesRetries(t *testing.T) {
	sw := &arpSweep{gap: 10 * time.Millisecond, maxTries: 2, state: make([]arpTarget, 2)}
	sw.state[0].prior = true
	sw.record(0, 0)
	sw.record(1, time.Millisecond)
	want := []arpRetry{{idx: 0, due: 10 * time.Millisecond}}
	if !slices.Equal(sw.priorRetry, want) {
		t.Errorf("prior retries %v, want %v", sw.priorRetry, want)
	}
	want = []arpRetry{{idx: 1, due: 11 * time.Millisecond}}
	if !slices.Equal(sw.retries, want) {
		t.Errorf("other retries %v, want %v", sw.retries, want)
	}
	sw.record(1, 20*time.Millisecond) // its last request
	if sw.settled != 1 || len(sw.retries) != 1 {
		t.Errorf("after the last request: settled %d, %d retries queued; want 1 and 1", sw.settled, len(sw.retries))
	}
}

func TestNextDueSkipsRetriesOverBudget(t *testing.T) {
	sw := &arpSweep{
		priorRetry: []arpRetry{{idx: 0, due: 30 * time.Millisecond}},
		retries:    []arpRetry{{idx: 1, due: 10 * time.Millisecond}},
		budget:     1,
		planned:    time.Hour,
	}
	if due, ok := sw.nextDue(0); !ok || due != 10*time.Millisecond {
		t.Errorf("with budget: nextDue = %v, %v; want 10ms", due, ok)
	}
	sw.budget = 0 // the sweep must not wake for a retry it will not send
	if due, ok := sw.nextDue(0); !ok || due != 30*time.Millisecond {
		t.Errorf("budget spent: nextDue = %v, %v; want the prior retry's 30ms", due, ok)
	}
	sw.priorRetry = nil
	if due, ok := sw.nextDue(0); ok {
		t.Errorf("budget spent, no prior retry: nextDue = %v, want none", due)
	}
}

// TestNextDueSkipsFarRetriesPastDeadline: once retryDeadline has passed,
// the sweep does not wake for a far retry; near, promoted and prior ones
// still count.
func TestNextDueSkipsFarRetriesPastDeadline(t *testing.T) {
	sw := &arpSweep{
		priorRetry: []arpRetry{{idx: 0, due: 300 * time.Millisecond}},
		retries:    []arpRetry{{idx: 1, due: 200 * time.Millisecond}},
		promoted:   []arpRetry{{idx: 3, due: 150 * time.Millisecond}},
		far:        []arpRetry{{idx: 2, due: 5 * time.Millisecond}},
		budget:     10,
		planned:    50 * time.Millisecond, // the deadline: 100 ms
	}
	for _, tt := range []struct {
		now  time.Duration
		drop func()
		want time.Duration
	}{
		{now: 0, want: 5 * time.Millisecond},                                                            // the far retry
		{now: 100 * time.Millisecond, want: 150 * time.Millisecond},                                     // the promoted one
		{now: 100 * time.Millisecond, drop: func() { sw.promoted = nil }, want: 200 * time.Millisecond}, // the near one
		{now: 100 * time.Millisecond, drop: func() { sw.retries = nil }, want: 300 * time.Millisecond},  // the prior one
	} {
		if tt.drop != nil {
			tt.drop()
		}
		if due, ok := sw.nextDue(tt.now); !ok || due != tt.want {
			t.Errorf("at %v: nextDue = %v, %v; want %v", tt.now, due, ok, tt.want)
		}
	}
}

func TestSweepPacesRetries(t *testing.T) {
	for _, stall := range []time.Duration{0, 60 * time.Millisecond} {
		t.Run(fmt.Sprint("stall_", stall), func(t *testing.T) { testSweepPacesRetries(t, stall) })
	}
}

// testSweepPacesRetries: with stall, the sender is held up mid-way through
// its first burst for longer than the timeout, as on a loaded machine, so
// retries fall due within that burst: they must be paced all the same
// (CI once saw 28 retries in 394 µs).
func testSweepPacesRetries(t *testing.T, stall time.Duration) {
	s, lan := newFakeScanner(t)
	lan.stallAt, lan.stall = 200, stall
	// 253 targets at 10000/s, 252 of them silent: the first 253 requests
	// go in one burst, and the retries, due together a spacing later, must
	// not: in any millisecond at most pacedBurst plus ten. (The host that
	// answers makes them retries in a live /24, which no deadline stops
	// on a loaded machine.)
	lan.add("192.0.2.254", &fakeHost{mac: mac(254)})
	cfg := &ARPConfig{Rate: 10000, Timeout: 50 * time.Millisecond, Retries: 2}
	if _, err := s.Sweep(context.Background(), subnet24(), cfg); err != nil {
		t.Fatal(err)
	}
	lan.mu.Lock()
	times := slices.Clone(lan.sendTimes)
	lan.mu.Unlock()
	if len(times) < 253+400 { // the budget: 500 retries at 10000/s in 50ms
		t.Fatalf("sent %d requests, want at least %d", len(times), 253+400)
	}
	retries := times[253:]
	const most = pacedBurst + 10 + 1
	for i := range retries[most:] {
		if d := retries[i+most].Sub(retries[i]); d < time.Millisecond {
			t.Fatalf("%d retries within %v, want at most %d in a millisecond", most+1, d, most)
		}
	}
}

// TestSweepSlowSendsCapRetries sweeps a /22 whose sends cost more time
// than the rate allows (a busy CPU; every host of a large lab taking every
// broadcast): the first pass still asks every target, and the silent
// targets in the /24 where hosts answered get all their retries (a host
// whose first reply was lost there is found), but the retries to the
// /24s where none answered stop Timeout after the first pass instead of
// doubling the sweep.
func TestSweepSlowSendsCapRetries(t *testing.T) {
	s, lan := newFakeScanner(t)
	lan.sendCost = 600 * time.Microsecond // 1667 requests/s at most
	lan.add("10.0.2.7", &fakeHost{mac: mac(7), drop: 1})
	lan.add("10.0.2.8", &fakeHost{mac: mac(8)})
	targets := subnet22()
	// At 10000/s the sweep would take (1022 + 1022) / 10000 s + 50 ms,
	// 254 ms; its first pass alone takes 613 ms, more than twice that.
	var log bytes.Buffer
	cfg := &ARPConfig{Rate: 10000, Timeout: 50 * time.Millisecond, Retries: 2,
		Logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	replies, err := s.Sweep(context.Background(), targets, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := found(replies); len(got) != 2 {
		t.Errorf("found %v, want 10.0.2.7 and 10.0.2.8", got)
	}
	lan.mu.Lock()
	sent := slices.Clone(lan.sent)
	lan.mu.Unlock()
	near := netip.MustParsePrefix("10.0.2.0/24")
	farRetries := len(slices.DeleteFunc(slices.Clone(sent), near.Contains)) - (len(targets) - 254)
	// 50 ms after the first pass holds at most 84 requests at 1667/s;
	// give a loaded machine's late wake-ups some slack.
	if farRetries > 150 {
		t.Errorf("sent %d retries to the /24s where none answered, want at most 150: not capped by time", farRetries)
	}
	for _, a := range targets {
		want := 1
		switch {
		case a == netip.MustParseAddr("10.0.2.7"):
			want = 2 // answers its second request
		case near.Contains(a) && a != netip.MustParseAddr("10.0.2.8"):
			want = 3
		}
		if n := lan.askedFor(a.String()); n < want {
			t.Errorf("%v asked %d times, want at least %d", a, n, want)
			break
		}
	}
	// -v tells where the time went.
	if want := fmt.Sprintf(`msg="arp: sweep done" targets=%d found=2 requests=%d first_pass=`, len(targets), len(sent)); !strings.Contains(log.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, log.String())
	}
}

// TestPromote: once a target in a /24 answers, the retries deferred as
// far for that /24 go to the promoted queue, in order, and those of other
// /24s stay.
func TestPromote(t *testing.T) {
	var addrs []netip.Addr
	for _, a := range []string{"192.0.2.1", "192.0.2.2", "198.51.100.1", "198.51.100.2"} {
		addrs = append(addrs, netip.MustParseAddr(a))
	}
	sw := &arpSweep{addrs: addrs, far: []arpRetry{{idx: 0, due: 1}, {idx: 2, due: 2}, {idx: 1, due: 3}, {idx: 3, due: 4}}}
	sw.promote(block(addrs[1]))
	if want := []arpRetry{{idx: 0, due: 1}, {idx: 1, due: 3}}; !slices.Equal(sw.promoted, want) {
		t.Errorf("promoted %v, want %v", sw.promoted, want)
	}
	if want := []arpRetry{{idx: 2, due: 2}, {idx: 3, due: 4}}; !slices.Equal(sw.far, want) {
		t.Errorf("far %v, want %v", sw.far, want)
	}
	sw.promote(block(addrs[0])) // live already: nothing moves twice
	if len(sw.promoted) != 2 || !sw.live[block(addrs[0])] || sw.live[block(addrs[2])] {
		t.Errorf("after a second promote: promoted %v, live %v", sw.promoted, sw.live)
	}
}
