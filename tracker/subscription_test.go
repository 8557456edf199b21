package tracker

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

func TestSubscriptionCoalesces(t *testing.T) {
	p := func(key, ver string) Presence {
		return Presence{Service: "s", Node: "n@192.0.2.1", Key: key, Meta: map[string]string{"v": ver}}
	}
	join := func(key, ver string) change { return change{P: p(key, ver)} }
	leave := func(key, ver string) change { return change{Leave: true, P: p(key, ver)} }
	for _, tc := range []struct {
		name                string
		in                  []change
		wantLeave, wantJoin []string // key:version
	}{
		{"join_only", []change{join("a", "1")}, nil, []string{"a:1"}},
		{"join_then_leave_cancel", []change{join("a", "1"), leave("a", "1")}, nil, nil},
		{"update_keeps_first_leave_last_join",
			[]change{leave("a", "1"), join("a", "2"), leave("a", "2"), join("a", "3")},
			[]string{"a:1"}, []string{"a:3"}},
		{"update_then_untrack", []change{leave("a", "1"), join("a", "2"), leave("a", "2")}, []string{"a:1"}, nil},
		{"other_service_filtered", []change{{P: Presence{Service: "other", Key: "x"}}}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Subscription{service: "s", kick: make(chan struct{}, 1)}
			for _, c := range tc.in {
				s.push([]change{c})
			}
			var gotL, gotJ []string
			for _, d := range diffs(s.pending) {
				for _, x := range d.Leaves {
					gotL = append(gotL, x.Key+":"+x.Meta["v"])
				}
				for _, x := range d.Joins {
					gotJ = append(gotJ, x.Key+":"+x.Meta["v"])
				}
			}
			if !slices.Equal(gotL, tc.wantLeave) || !slices.Equal(gotJ, tc.wantJoin) {
				t.Errorf("leaves %v joins %v, want %v %v", gotL, gotJ, tc.wantLeave, tc.wantJoin)
			}
		})
	}
}

func TestSubscriptionOrdersMemberEvents(t *testing.T) {
	m := &member{Addr: netip.MustParseAddrPort("192.0.2.1:7946"), Boot: 7, Alive: true}
	in := []change{
		memberChange("n@192.0.2.1", m, false, false),
		{P: Presence{Service: "s", Node: "n@192.0.2.1", Key: "a"}},
		memberChange("n@192.0.2.1", m, true, true),
		memberChange("n@192.0.2.1", m, false, false),
		{P: Presence{Service: "s", Node: "n@192.0.2.1", Key: "b"}},
	}
	for _, tc := range []struct {
		name    string
		members bool
		want    []string
	}{
		{"with_members", true, []string{"+n@192.0.2.1", "s+a", "-n@192.0.2.1 graceful", "+n@192.0.2.1", "s+b"}},
		{"without_members", false, []string{"s+a+b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Subscription{members: tc.members, kick: make(chan struct{}, 1)}
			for _, c := range in {
				s.push([]change{c}) // one at a time: a slow reader
			}
			var got []string
			for _, d := range diffs(s.pending) {
				got = append(got, diffString(d))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("diffs %q, want %q", got, tc.want)
			}
		})
	}
}

// diffString renders a Diff as "+node" / "-node graceful" for a member
// event, or "service-key+key" for entries.
func diffString(d Diff) string {
	if e := d.Member; e != nil {
		s := map[bool]string{false: "+", true: "-"}[e.Leave] + e.Member.Name
		if e.Graceful {
			s += " graceful"
		}
		return s
	}
	s := d.Service
	for _, p := range d.Leaves {
		s += "-" + p.Key
	}
	for _, p := range d.Joins {
		s += "+" + p.Key
	}
	return s
}

func TestPick(t *testing.T) {
	list := []Presence{
		{Key: "a", Meta: map[string]string{"load": "5"}},
		{Key: "b", Meta: map[string]string{"load": "1.5"}, Local: true},
		{Key: "c", Meta: map[string]string{"load": "oops"}},
		{Key: "d"},
	}
	for _, tc := range []struct {
		name string
		p    Policy
		n    uint64
		want string
	}{
		{"least_load", Least("load"), 0, "b"},
		{"prefer_local", PreferLocal, 0, "b"},
		{"round_robin_0", RoundRobin, 0, "a"},
		{"round_robin_5", RoundRobin, 5, "b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := pick(list, tc.p, tc.n); got.Key != tc.want {
				t.Errorf("pick %v = %s, want %s", tc.p, got.Key, tc.want)
			}
		})
	}
	t.Run("least_missing_field_random", func(t *testing.T) {
		if got := pick(list, Least("cpu"), 0); got.Key == "" {
			t.Error("no pick")
		}
	})
}

// nextDiffs reads n diffs from s, rendered by diffString.
func nextDiffs(t *testing.T, s *Subscription, n int) []string {
	t.Helper()
	var out []string
	for range n {
		out = append(out, diffString(recv(t, s)))
	}
	return out
}

// Issue 9 item 2: membership changes come from memberlist's callbacks,
// in order with the entry changes, and a member that joins and leaves
// while the reader is not reading is still reported twice.
func TestClusterSubscribeMembers(t *testing.T) {
	nodes := startCluster(t, 2, nil)
	sub := nodes[0].SubscribeMembers("")
	defer sub.Close()
	if got, want := nextDiffs(t, sub, 2), []string{"+node0@127.0.0.1", "+node1@127.0.0.1"}; !slices.Equal(got, want) {
		t.Fatalf("initial diffs %q, want %q", got, want)
	}

	brief := startNode(t, "brief", 0, nil)
	if _, err := brief.Track("http", "web", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := brief.Join([]string{nodes[0].addr()}); err != nil {
		t.Fatal(err)
	}
	seenEverywhere(t, nodes, "http", []string{"brief@127.0.0.1/web"}, 5*time.Second)
	if err := brief.Leave(time.Second); err != nil {
		t.Fatal(err)
	}
	seenEverywhere(t, nodes, "http", nil, 5*time.Second)
	want := []string{"+brief@127.0.0.1", "http+web", "http-web", "-brief@127.0.0.1 graceful"}
	if got := nextDiffs(t, sub, 4); !slices.Equal(got, want) {
		t.Errorf("diffs for a short-lived member %q, want %q", got, want)
	}

	crashed := startNode(t, "crashed", 0, nil)
	if _, err := crashed.Join([]string{nodes[0].addr()}); err != nil {
		t.Fatal(err)
	}
	if got, want := nextDiffs(t, sub, 1), []string{"+crashed@127.0.0.1"}; !slices.Equal(got, want) {
		t.Fatalf("diffs %q, want %q", got, want)
	}
	crashed.Close()
	if got, want := nextDiffs(t, sub, 1), []string{"-crashed@127.0.0.1"}; !slices.Equal(got, want) {
		t.Errorf("diffs after a crash %q, want %q", got, want)
	}
}

// TestPickMetaIsACopy: a picked entry's meta, the one map Pick clones,
// is the caller's: changing it changes neither the view nor the next
// pick, under every policy.
func TestPickMetaIsACopy(t *testing.T) {
	n := startNode(t, "meta", 0, nil)
	for i := range 3 {
		if _, err := n.Track("web", fmt.Sprint("k", i), map[string]string{"load": fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []Policy{Random, RoundRobin, PreferLocal, Least("load")} {
		got, err := n.Pick("web", p)
		if err != nil {
			t.Fatalf("%v: %v", p, err)
		}
		want := got.Meta["load"]
		got.Meta["load"] = "changed"
		for _, e := range n.List("web") {
			if e.Meta["load"] == "changed" {
				t.Fatalf("%v: changing the picked meta changed the view: %v", p, e)
			}
		}
		if again, _ := n.Pick("web", Least("load")); again.Meta["load"] != "0" || want == "changed" {
			t.Fatalf("%v: next pick %v", p, again.Meta)
		}
	}
}

// BenchmarkPick: picking one of 20 entries (each with meta) copies the
// meta of the one picked only.
func BenchmarkPick(b *testing.B) {
	n := startNode(b, "bench", 0, nil)
	for i := range 20 {
		if _, err := n.Track("web", fmt.Sprint("k", i), map[string]string{"port": fmt.Sprint(8000 + i), "zone": "a"}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := n.Pick("web", Random); err != nil {
			b.Fatal(err)
		}
	}
}

// A writer's leave message reaches us just before memberlist's notice
// that it is gone (both arrive on memberlist's packet goroutine, in that
// order): the member is reported as having left gracefully. The leave
// used to wait in the inbox, behind the notice, under load
// (TestClusterSubscribeMembers failed in CI).
func TestLeaveBeforeDeadNotice(t *testing.T) {
	const peer = "peer@192.0.2.2"
	tr := bareTracker(peer)
	d := &delegate{t: tr}
	msg := encodeLeave(leaveMsg{Node: peer, Boot: 5})
	d.NotifyMsg(msg)
	clear(msg) // memberlist reuses its buffer
	d.NotifyLeave(&memberlist.Node{Name: peer})
	if m := tr.v.members[peer]; m == nil || m.Alive || !m.Left {
		t.Fatalf("member after leave message and dead notice: %+v, want left gracefully", m)
	}
	if got := tr.queue.NumQueued(); got != 1 {
		t.Fatalf("%d messages queued for gossip, want the leave passed on", got)
	}
	b := tr.queue.GetBroadcasts(0, 1400)
	if len(b) != 1 || !bytes.Equal(b[0], encodeLeave(leaveMsg{Node: peer, Boot: 5})) {
		t.Fatalf("gossiped %x, want the leave message intact", b)
	}
}
