package tracker

import (
	"slices"
	"testing"
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
			s := &Subscription{service: "s", pending: map[string]*batch{}, kick: make(chan struct{}, 1)}
			for _, c := range tc.in {
				s.push([]change{c})
			}
			var gotL, gotJ []string
			if b := s.pending["s"]; b != nil {
				d, _ := b.diff("s")
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
