package rename

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// step is something that happens at a time: the kernel's addresses
// become addrs (unless nil), and an address event or a poll follows.
type step struct {
	at    time.Duration
	poll  bool        // a safety poll rather than an address event
	addrs []ifaceAddr // the addresses from now on; nil: unchanged
	def   int         // default route interface from now on, with addrs
}

type emitted struct {
	At time.Duration
	Change
}

// simulate runs d over steps with a fake clock, the way Watcher.run does,
// reading the addresses from the latest step, until nothing is scheduled.
func simulate(d *decider, initial []ifaceAddr, initialDef int, steps []step) []emitted {
	t0 := time.Unix(1_000_000, 0)
	snap := snapshot{addrs: initial, default4: initialDef}
	set := settings{}
	d.current = set.choose(snap)
	var out []emitted
	for i := 0; ; {
		due, scheduled := d.next()
		if i < len(steps) && (!scheduled || !t0.Add(steps[i].at).After(due)) {
			s := steps[i]
			i++
			if s.addrs != nil {
				snap = snapshot{addrs: s.addrs, default4: s.def}
			}
			if s.poll {
				d.poll(t0.Add(s.at))
			} else {
				d.event(t0.Add(s.at))
			}
			continue
		}
		if !scheduled {
			return out
		}
		if c, ok := d.settle(due, set.choose(snap)); ok {
			out = append(out, emitted{At: due.Sub(t0), Change: c})
		}
	}
}

func TestDecider(t *testing.T) {
	var (
		a       = addr(2, "192.0.2.10/24", 0)
		b       = addr(2, "192.0.2.20/24", 0)
		bSec    = addr(2, "192.0.2.20/24", flagSecondary)
		c3      = addr(3, "198.51.100.30/24", 0)
		v6      = addr(2, "2001:db8::ffff/64", 0)
		v6temp  = addr(2, "2001:db8::1/64", flagTemporary)
		v6tent  = addr(2, "2001:db8::2/64", flagTentative)
		none    = []ifaceAddr{}
		ipA     = netip.MustParseAddr("192.0.2.10")
		ipB     = netip.MustParseAddr("192.0.2.20")
		ipC     = netip.MustParseAddr("198.51.100.30")
		s       = time.Second
		ms      = time.Millisecond
		std     = decider{debounce: 2 * s, grace: 5 * s}
		instant = decider{}
	)
	tests := []struct {
		name    string
		d       decider
		initial []ifaceAddr
		def     int
		steps   []step
		want    []emitted
	}{
		{
			name:    "remove_and_readd_inside_debounce",
			d:       std,
			initial: []ifaceAddr{a},
			steps:   []step{{at: 0, addrs: none}, {at: 1 * s, addrs: []ifaceAddr{a}}},
		},
		{
			name:    "duplicate_new_address_event",
			d:       std,
			initial: []ifaceAddr{a},
			steps:   []step{{at: 0, addrs: []ifaceAddr{a}}, {at: 100 * ms, addrs: []ifaceAddr{a}}},
		},
		{
			name:    "replace_address",
			d:       std,
			initial: []ifaceAddr{a},
			steps:   []step{{at: 0, addrs: []ifaceAddr{a, bSec}}, {at: 10 * ms, addrs: []ifaceAddr{b}}},
			want:    []emitted{{At: 2010 * ms, Change: Change{Old: ipA, New: ipB}}},
		},
		{
			name:    "dhcp_move_is_one_change",
			d:       std,
			initial: []ifaceAddr{a},
			steps:   []step{{at: 0, addrs: none}, {at: 3 * s, addrs: []ifaceAddr{b}}},
			want:    []emitted{{At: 5 * s, Change: Change{Old: ipA, New: ipB}}},
		},
		{
			name:    "promotion_of_secondary",
			d:       std,
			initial: []ifaceAddr{a, bSec},
			steps:   []step{{at: 0, addrs: []ifaceAddr{b}}},
			want:    []emitted{{At: 2 * s, Change: Change{Old: ipA, New: ipB}}},
		},
		{
			name:    "lost_address",
			d:       std,
			initial: []ifaceAddr{a},
			steps:   []step{{at: 0, addrs: none}},
			want:    []emitted{{At: 7 * s, Change: Change{Old: ipA}}},
		},
		{
			name:  "regained_address",
			d:     std,
			steps: []step{{at: 0, addrs: []ifaceAddr{a}}},
			want:  []emitted{{At: 2 * s, Change: Change{New: ipA}}},
		},
		{
			name:    "lost_then_regained_after_grace",
			d:       std,
			initial: []ifaceAddr{a},
			steps:   []step{{at: 0, addrs: none}, {at: 10 * s, addrs: []ifaceAddr{a}}},
			want: []emitted{
				{At: 7 * s, Change: Change{Old: ipA}},
				{At: 12 * s, Change: Change{New: ipA}},
			},
		},
		{
			name:    "same_address_back_inside_grace",
			d:       std,
			initial: []ifaceAddr{a},
			steps:   []step{{at: 0, addrs: none}, {at: 4 * s, addrs: []ifaceAddr{a}}},
		},
		{
			name:    "ipv6_privacy_and_tentative_ignored",
			d:       std,
			initial: []ifaceAddr{v6},
			steps: []step{
				{at: 0, addrs: []ifaceAddr{v6, v6tent}},
				{at: 3 * s, addrs: []ifaceAddr{v6, v6temp}},
			},
		},
		{
			name:    "default_route_interface_preference",
			d:       std,
			initial: []ifaceAddr{a, c3},
			def:     2,
			steps:   []step{{at: 0, addrs: []ifaceAddr{a, c3}, def: 3}},
			want:    []emitted{{At: 2 * s, Change: Change{Old: ipA, New: ipC}}},
		},
		{
			name:    "events_postpone_the_read",
			d:       std,
			initial: []ifaceAddr{a},
			steps: []step{
				{at: 0, addrs: none},
				{at: 1 * s, addrs: []ifaceAddr{b}},
				{at: 2 * s, addrs: none},
				{at: 3 * s, addrs: []ifaceAddr{c3}},
			},
			want: []emitted{{At: 5 * s, Change: Change{Old: ipA, New: ipC}}},
		},
		{
			name:    "endless_events_read_after_max_wait",
			d:       std,
			initial: []ifaceAddr{a},
			steps: []step{
				{at: 0, addrs: []ifaceAddr{b}}, {at: 1 * s}, {at: 2 * s}, {at: 3 * s}, {at: 4 * s},
				{at: 5 * s}, {at: 6 * s}, {at: 7 * s}, {at: 7900 * ms}, {at: 9 * s}, {at: 10 * s},
			},
			want: []emitted{{At: 8 * s, Change: Change{Old: ipA, New: ipB}}},
		},
		{
			name:    "poll_reads_at_once",
			d:       std,
			initial: []ifaceAddr{a},
			steps:   []step{{at: 30 * s, poll: true, addrs: []ifaceAddr{b}}},
			want:    []emitted{{At: 30 * s, Change: Change{Old: ipA, New: ipB}}},
		},
		{
			name:    "poll_during_debounce_waits",
			d:       std,
			initial: []ifaceAddr{a},
			steps: []step{
				{at: 0, addrs: none},
				{at: 500 * ms, poll: true},
				{at: 1 * s, addrs: []ifaceAddr{a}},
			},
		},
		{
			name:    "no_debounce_no_grace",
			d:       instant,
			initial: []ifaceAddr{a},
			steps:   []step{{at: 0, addrs: none}, {at: 1 * s, addrs: []ifaceAddr{a}}},
			want: []emitted{
				{At: 0, Change: Change{Old: ipA}},
				{At: 1 * s, Change: Change{New: ipA}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.d
			got := simulate(&d, tt.initial, tt.def, tt.steps)
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(x, y netip.Addr) bool { return x == y })); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
		})
	}
}
