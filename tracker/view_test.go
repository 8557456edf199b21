package tracker

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestClassify(t *testing.T) {
	rec := &nodeRec{Boot: 10, Version: 5}
	for _, tc := range []struct {
		name string
		r    *nodeRec
		d    delta
		want verdict
	}{
		{"first_of_unknown", nil, delta{Boot: 10, Version: 1, Op: opPut}, deltaApplied},
		{"later_of_unknown", nil, delta{Boot: 10, Version: 3, Op: opPut}, deltaGap},
		{"next", rec, delta{Boot: 10, Version: 6, Op: opPut}, deltaApplied},
		{"duplicate", rec, delta{Boot: 10, Version: 5, Op: opPut}, deltaStale},
		{"old", rec, delta{Boot: 10, Version: 2, Op: opDel}, deltaStale},
		{"gap", rec, delta{Boot: 10, Version: 8, Op: opPut}, deltaGap},
		{"notice_next", rec, delta{Boot: 10, Version: 6, Op: opNotice}, deltaGap},
		{"notice_old", rec, delta{Boot: 10, Version: 5, Op: opNotice}, deltaStale},
		{"older_boot", rec, delta{Boot: 9, Version: 99, Op: opPut}, deltaStale},
		{"new_boot_first", rec, delta{Boot: 11, Version: 1, Op: opPut}, deltaApplied},
		{"new_boot_later", rec, delta{Boot: 11, Version: 2, Op: opPut}, deltaGap},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := classify(tc.r, &tc.d); got != tc.want {
				t.Errorf("classify = %v, want %v", got, tc.want)
			}
		})
	}
}

// step is one input to the view in a lifecycle table.
type step struct {
	up    *nodeMeta // memberlist: node alive with this meta
	down  bool      // memberlist: node dead
	left  bool      // leave message for boot
	put   string    // delta putting key (next version)
	rec   []string  // merge a record with these keys (next version)
	boot  uint64    // boot of put/rec/left
	purge time.Duration
	// expected changes, as "+key" / "-key", and visible keys after
	want []string
	list []string
}

func TestViewLifecycle(t *testing.T) {
	const peer = "peer@192.0.2.2"
	addr := netip.MustParseAddrPort("192.0.2.2:7946")
	up := func(boot uint64) *nodeMeta { return &nodeMeta{Boot: boot} }
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"join_then_entries", []step{
			{up: up(1), want: []string{"+@"}, list: nil},
			{put: "a", boot: 1, want: []string{"+a"}, list: []string{"a"}},
		}},
		{"entries_before_member_dropped", []step{
			{rec: []string{"a"}, boot: 1},
			{put: "b", boot: 1},
			{left: true, boot: 1},
			{up: up(1), want: []string{"+@"}}, // fetched from the node, not taken from hearsay
			{rec: []string{"c"}, boot: 1, want: []string{"+c"}, list: []string{"c"}},
		}},
		{"other_boot_than_memberlist_ignored", []step{
			{up: up(5), want: []string{"+@"}},
			{put: "a", boot: 5, want: []string{"+a"}, list: []string{"a"}},
			{put: "x", boot: 1 << 63, list: []string{"a"}},
			{rec: []string{"x"}, boot: 1 << 63, list: []string{"a"}},
			{left: true, boot: 1 << 63, list: []string{"a"}},
			{left: true, boot: 4, list: []string{"a"}},
			{put: "b", boot: 5, want: []string{"+b"}, list: []string{"a", "b"}},
		}},
		{"crash_hides_keeps", []step{
			{up: up(1), want: []string{"+@"}},
			{put: "a", boot: 1, want: []string{"+a"}, list: []string{"a"}},
			{down: true, want: []string{"-a", "-@"}},
			{up: up(1), want: []string{"+@", "+a"}, list: []string{"a"}},
		}},
		{"restart_drops_old", []step{
			{up: up(1), want: []string{"+@"}},
			{put: "a", boot: 1, want: []string{"+a"}, list: []string{"a"}},
			{down: true, want: []string{"-a", "-@"}},
			{up: up(2), want: []string{"+@"}},
			{rec: []string{"a"}, boot: 1}, // stale copy of the old boot
			{put: "b", boot: 2, want: []string{"+b"}, list: []string{"b"}},
		}},
		{"restart_while_alive", []step{
			{up: up(1), want: []string{"+@"}},
			{put: "a", boot: 1, want: []string{"+a"}, list: []string{"a"}},
			{up: up(2), want: []string{"-a", "-@", "+@"}},
		}},
		{"graceful_leave_blocks_stale_copies", []step{
			{up: up(1), want: []string{"+@"}},
			{put: "a", boot: 1, want: []string{"+a"}, list: []string{"a"}},
			{left: true, boot: 1, want: []string{"-a", "-@left"}},
			{rec: []string{"a", "b"}, boot: 1},
			{down: true},
			{up: up(1), want: []string{"+@"}},
		}},
		{"permdown_purges", []step{
			{up: up(1), want: []string{"+@"}},
			{put: "a", boot: 1, want: []string{"+a"}, list: []string{"a"}},
			{down: true, want: []string{"-a", "-@"}},
			{purge: 2 * time.Minute},
			{up: up(1), want: []string{"+@"}}, // record gone: nothing to show
		}},
		{"short_down_not_purged", []step{
			{up: up(1), want: []string{"+@"}},
			{put: "a", boot: 1, want: []string{"+a"}, list: []string{"a"}},
			{down: true, want: []string{"-a", "-@"}},
			{purge: 30 * time.Second},
			{up: up(1), want: []string{"+@", "+a"}, list: []string{"a"}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newView("me@192.0.2.1", netip.MustParseAddrPort("192.0.2.1:7946"), 1)
			versions := map[uint64]uint64{}
			now := t0
			for i, s := range tc.steps {
				var ch []change
				switch {
				case s.up != nil:
					ch, _ = v.memberUp(peer, addr, *s.up)
				case s.down:
					ch = v.memberDown(peer, false, now)
				case s.left:
					ch = v.leave(peer, s.boot, now)
				case s.put != "":
					versions[s.boot]++
					d := delta{Node: peer, Boot: s.boot, Version: versions[s.boot], Op: opPut, Service: "svc", Key: s.put}
					ch, _ = v.applyDelta(&d, now)
				case s.rec != nil:
					versions[s.boot]++
					r := record{Node: peer, Boot: s.boot, Version: versions[s.boot]}
					for _, k := range s.rec {
						r.Entries = append(r.Entries, entry{Service: "svc", Key: k, Version: r.Version})
					}
					ch = v.mergeRecord(&r, false, now)
				case s.purge > 0:
					now = now.Add(s.purge)
					v.purge(now, time.Minute)
				}
				var got []string
				for _, c := range ch {
					got = append(got, changeString(c))
				}
				if !slices.Equal(got, s.want) {
					t.Errorf("step %d: changes %v, want %v", i, got, s.want)
				}
				var list []string
				for _, p := range v.list("svc") {
					list = append(list, p.Key)
				}
				if !slices.Equal(list, s.list) {
					t.Errorf("step %d: list %v, want %v", i, list, s.list)
				}
				now = now.Add(time.Second)
			}
		})
	}
}

// changeString renders an entry change as "+key" / "-key" and a member
// change as "+@" / "-@" ("-@left" for a graceful leave).
func changeString(c change) string {
	sign := map[bool]string{true: "-", false: "+"}[c.Leave]
	if c.M == nil {
		return sign + c.P.Key
	}
	if c.M.Graceful {
		return sign + "@left"
	}
	return sign + "@"
}

func TestViewGapHeldAndDrained(t *testing.T) {
	const peer = "peer@192.0.2.2"
	v := newView("me@192.0.2.1", netip.MustParseAddrPort("192.0.2.1:7946"), 1)
	v.memberUp(peer, netip.MustParseAddrPort("192.0.2.2:7946"), nodeMeta{Boot: 5})
	d := func(ver uint64, key string) *delta {
		return &delta{Node: peer, Boot: 5, Version: ver, Op: opPut, Service: "s", Key: key}
	}
	// memberlist sends newest first: 3, 2, then 1.
	if _, vd := v.applyDelta(d(3, "c"), t0); vd != deltaGap {
		t.Fatalf("v3 first: %v, want gap", vd)
	}
	if _, vd := v.applyDelta(d(2, "b"), t0); vd != deltaGap {
		t.Fatalf("v2: %v, want gap", vd)
	}
	ch, vd := v.applyDelta(d(1, "a"), t0)
	if vd != deltaApplied || len(ch) != 3 {
		t.Fatalf("v1: %v with %d changes, want applied with 3", vd, len(ch))
	}
	if got := v.nodes[peer].Version; got != 3 {
		t.Errorf("version %d after drain, want 3", got)
	}
	if len(v.pending) != 0 {
		t.Errorf("pending left: %v", v.pending)
	}
	if got := v.behind([]digestItem{{Node: peer, Boot: 5, Version: 4}}); !slices.Equal(got, []string{peer}) {
		t.Errorf("behind = %v, want [%s]", got, peer)
	}
	if got := v.behind([]digestItem{{Node: peer, Boot: 5, Version: 3}}); len(got) != 0 {
		t.Errorf("behind = %v, want none", got)
	}
}

func TestViewKeepsNothingOfNonMembers(t *testing.T) {
	v := newView("me@192.0.2.1", netip.MustParseAddrPort("192.0.2.1:7946"), 1)
	for i := range 100 {
		node := fmt.Sprintf("ghost%d@198.51.100.1", i)
		for ver := uint64(1); ver <= 2; ver++ {
			d := &delta{Node: node, Boot: 1, Version: ver, Op: opPut, Service: "s", Key: "k"}
			if ch, vd := v.applyDelta(d, t0); vd != deltaStale || len(ch) != 0 {
				t.Fatalf("delta of a non-member: %v %v, want ignored", vd, ch)
			}
		}
		v.mergeRecord(&record{Node: node, Boot: 1, Version: 3}, false, t0)
		v.leave(node, 1, t0)
		if got := v.behind([]digestItem{{Node: node, Boot: 1, Version: 9}}); len(got) != 0 {
			t.Fatalf("behind a non-member: %v", got)
		}
	}
	if len(v.nodes) != 1 || len(v.seen)+len(v.pending)+len(v.tombs)+len(v.members) != 0 {
		t.Errorf("kept nodes=%d seen=%d pending=%d tombs=%d members=%d, want only our own record",
			len(v.nodes), len(v.seen), len(v.pending), len(v.tombs), len(v.members))
	}
}

// TestViewOwnRecordWins: a forged record at the writer's boot with a huge
// version is replaced by the writer's own record, and only by that.
func TestViewOwnRecordWins(t *testing.T) {
	const node = "peer@192.0.2.2"
	v := newView("me@192.0.2.1", netip.MustParseAddrPort("192.0.2.1:7946"), 1)
	v.memberUp(node, netip.MustParseAddrPort("192.0.2.2:7946"), nodeMeta{Boot: 5})
	real := record{Node: node, Boot: 5, Version: 3, Entries: []entry{{Service: "http", Key: "web", Version: 3}}}
	v.mergeRecord(&real, true, t0)
	v.mergeRecord(&record{Node: node, Boot: 5, Version: 1 << 62}, false, t0)
	if got := v.list("http"); len(got) != 0 {
		t.Fatalf("forged empty record not applied first: %v", got)
	}
	older := record{Node: node, Boot: 5, Version: 2}
	v.mergeRecord(&older, false, t0)
	if r := v.nodes[node]; r.Version != 1<<62 {
		t.Fatalf("a record relayed by others replaced a newer one: version %d", r.Version)
	}
	v.mergeRecord(&real, true, t0)
	if r := v.nodes[node]; r.Version != 3 || len(v.list("http")) != 1 || v.seen[node].Version != 3 {
		t.Errorf("after the writer's own record: version %d, http %v, seen %d; want 3, web, 3", r.Version, v.list("http"), v.seen[node].Version)
	}
	d := &delta{Node: node, Boot: 5, Version: 4, Op: opPut, Service: "http", Key: "api"}
	if !v.observe(d) {
		t.Error("the writer's next delta is not gossiped on")
	}
	if _, vd := v.applyDelta(d, t0); vd != deltaApplied {
		t.Errorf("the writer's next delta: %v, want applied", vd)
	}
}

// TestViewEarlyRecord: a record that arrives (in a join's push/pull)
// before its writer is a member is held, and its entries are listed as
// the writer becomes a member at that boot, with no sync to ask for;
// one of another boot is not adopted, and purge drops what is held.
func TestViewEarlyRecord(t *testing.T) {
	const node = "peer@192.0.2.2"
	addr := netip.MustParseAddrPort("192.0.2.2:7946")
	rec := record{Node: node, Boot: 5, Version: 2, Entries: []entry{{Service: "http", Key: "web", Version: 2}}}
	v := newView("me@192.0.2.1", netip.MustParseAddrPort("192.0.2.1:7946"), 1)
	if ch := v.mergeRecord(&rec, false, t0); len(ch) != 0 || len(v.list("http")) != 0 {
		t.Fatalf("record of a non-member applied: %v, http %v", ch, v.list("http"))
	}
	_, need := v.memberUp(node, addr, nodeMeta{Boot: 5})
	if !need {
		t.Fatal("memberUp without the record: no sync wanted")
	}
	ch, ok := v.adoptEarly(node, 5, t0)
	if !ok || len(ch) != 1 || len(v.list("http")) != 1 {
		t.Errorf("adoptEarly = %v, %v; http %v; want the held entry joined", ch, ok, v.list("http"))
	}
	if _, ok := v.adoptEarly(node, 5, t0); ok {
		t.Error("the held record adopted twice")
	}

	other := newView("me@192.0.2.1", netip.MustParseAddrPort("192.0.2.1:7946"), 1)
	other.mergeRecord(&rec, false, t0)
	other.memberUp(node, addr, nodeMeta{Boot: 6})
	if _, ok := other.adoptEarly(node, 6, t0); ok || len(other.list("http")) != 0 {
		t.Errorf("record of boot 5 adopted for a member at boot 6: http %v", other.list("http"))
	}
	other.purge(t0.Add(time.Hour), time.Minute)
	if len(other.early) != 0 {
		t.Errorf("purge kept %d held records", len(other.early))
	}
}

// TestViewEarlyRecordsBounded: records of writers that never join (a
// member relaying forged names) are held at most maxEarly at once.
func TestViewEarlyRecordsBounded(t *testing.T) {
	v := newView("me@192.0.2.1", netip.MustParseAddrPort("192.0.2.1:7946"), 1)
	for i := range maxEarly + 100 {
		v.mergeRecord(&record{Node: fmt.Sprintf("ghost%d@198.51.100.1", i), Boot: 1, Version: 1}, false, t0)
	}
	if len(v.early) != maxEarly {
		t.Errorf("%d records held, want %d", len(v.early), maxEarly)
	}
}

// BenchmarkViewList lists each of 30 services of 30 nodes, one each,
// as `sdjoin list` with no service does (the bench polls it).
func BenchmarkViewList(b *testing.B) {
	v := newView("me@192.0.2.1", netip.MustParseAddrPort("192.0.2.1:7946"), 1)
	for i := range 30 {
		node := fmt.Sprintf("n%d@198.51.100.%d", i, i+1)
		v.memberUp(node, netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(i + 1)}), 7946), nodeMeta{Boot: 1})
		v.mergeRecord(&record{Node: node, Boot: 1, Version: 1, Entries: []entry{{Service: fmt.Sprintf("svc%d", i), Key: "k", Version: 1}}}, true, t0)
	}
	for b.Loop() {
		for _, svc := range v.services() {
			v.list(svc)
		}
	}
}

// TestEncodedFollowsChanges: the cached encoding of a record is dropped
// when the record changes.
func TestEncodedFollowsChanges(t *testing.T) {
	v := newView("me@192.0.2.1", netip.MustParseAddrPort("192.0.2.1:7946"), 1)
	count := func() int {
		t.Helper()
		b, ok := v.encoded("me@192.0.2.1")
		if !ok {
			t.Fatal("no record of our own")
		}
		d := decoder{b: b}
		r := d.record()
		if err := d.done(); err != nil {
			t.Fatal(err)
		}
		return len(r.Entries)
	}
	for i, op := range []struct {
		op   byte
		key  string
		want int
	}{{opPut, "a", 1}, {opPut, "b", 2}, {opPut, "b", 2}, {opDel, "a", 1}} {
		v.local(op.op, "svc", op.key, nil)
		if got := count(); got != op.want {
			t.Errorf("after change %d: encoding has %d entries, want %d", i, got, op.want)
		}
	}
}
