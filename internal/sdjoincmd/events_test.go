package sdjoincmd

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ipfinder-go/ipfinder/tracker"
)

func TestRecordText(t *testing.T) {
	addr := netip.MustParseAddrPort("192.0.2.2:7947")
	tests := []struct {
		name string
		r    record
		want string
		json string
	}{
		{
			name: "join",
			r:    record{Event: evJoin, Service: "test", Node: "node2@192.0.2.2", Addr: addr, Meta: map[string]string{}},
			want: "join test node2@192.0.2.2 192.0.2.2:7947 {}",
			json: `{"event":"join","service":"test","node":"node2@192.0.2.2","addr":"192.0.2.2:7947","meta":{}}`,
		},
		{
			name: "join_meta_sorted",
			r:    record{Event: evJoin, Service: "db", Node: "n@192.0.2.2", Addr: addr, Meta: map[string]string{"zone": "a", "load": "3"}},
			want: `join db n@192.0.2.2 192.0.2.2:7947 {"load":"3","zone":"a"}`,
		},
		{
			name: "leave",
			r:    record{Event: evLeave, Service: "test", Node: "node2@192.0.2.2", Addr: addr, Meta: map[string]string{}},
			want: "leave test node2@192.0.2.2",
		},
		{
			name: "rename",
			r:    record{Event: evRename, Service: "test", Node: "n@192.0.2.3", PrevNode: "n@192.0.2.2"},
			want: "rename n@192.0.2.2 -> n@192.0.2.3",
			json: `{"event":"rename","service":"test","node":"n@192.0.2.3","prev_node":"n@192.0.2.2"}`,
		},
		{
			name: "member_join",
			r:    record{Event: evMemberJoin, Node: "node2@192.0.2.2", Addr: addr},
			want: "member-join node2@192.0.2.2 192.0.2.2:7947",
			json: `{"event":"member-join","node":"node2@192.0.2.2","addr":"192.0.2.2:7947"}`,
		},
		{
			name: "member_leave",
			r:    record{Event: evMemberLeave, Node: "node2@192.0.2.2"},
			want: "member-leave node2@192.0.2.2",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.text(); got != tt.want {
				t.Errorf("text = %q, want %q", got, tt.want)
			}
			if tt.json == "" {
				return
			}
			var b strings.Builder
			if err := writeRecord(&b, tt.r, true); err != nil {
				t.Fatal(err)
			}
			if got := b.String(); got != tt.json+"\n" {
				t.Errorf("JSON = %s, want %s", got, tt.json)
			}
			var back record
			if err := json.Unmarshal([]byte(tt.json), &back); err != nil || !cmp.Equal(back, tt.r, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })) {
				t.Errorf("JSON round trip = %+v, %v", back, err)
			}
		})
	}
}

func TestVisibleApply(t *testing.T) {
	pres := func(node string, version uint64, prev string) tracker.Presence {
		return tracker.Presence{Service: "test", Key: trackKey, Node: node, Ref: tracker.Ref{Node: node, Boot: 1, Version: version}, PrevNode: prev}
	}
	v := make(visible)
	events := func(d tracker.Diff) []string {
		var out []string
		for _, r := range v.apply(d) {
			out = append(out, r.Event+" "+r.Node)
		}
		return out
	}
	steps := []struct {
		name string
		diff tracker.Diff
		want []string
	}{
		{name: "join", diff: tracker.Diff{Joins: []tracker.Presence{pres("a", 1, "")}}, want: []string{"join a"}},
		{name: "same_join_again_dropped", diff: tracker.Diff{Joins: []tracker.Presence{pres("a", 1, "")}}},
		{name: "update", diff: tracker.Diff{Leaves: []tracker.Presence{pres("a", 1, "")}, Joins: []tracker.Presence{pres("a", 2, "")}}, want: []string{"leave a", "join a"}},
		{name: "unknown_leave_dropped", diff: tracker.Diff{Leaves: []tracker.Presence{pres("b", 1, "")}}},
		{
			name: "rename",
			diff: tracker.Diff{Leaves: []tracker.Presence{pres("a", 2, "")}, Joins: []tracker.Presence{pres("c", 1, "a")}, Renamed: map[string]string{"a": "c"}},
			want: []string{"leave a", "rename c", "join c"},
		},
	}
	for _, s := range steps {
		if diff := cmp.Diff(s.want, events(s.diff)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", s.name, diff)
		}
	}
	gone := v.reconcile(nil)
	if len(gone) != 1 || gone[0].Event != evLeave || gone[0].Node != "c" || len(v) != 0 {
		t.Errorf("reconcile(nil) = %+v, left %v", gone, v)
	}
}

func TestSubscriberAdmit(t *testing.T) {
	w := &subscriber{service: "test"}
	rename := record{Event: evRename, Service: "test", Node: "n@192.0.2.3", PrevNode: "n@192.0.2.2"}
	if !w.admit(rename) || w.admit(rename) {
		t.Error("a rename is not shown exactly once")
	}
	if w.admit(record{Event: evMemberJoin, Node: "x"}) || w.admit(record{Event: evJoin, Service: "other"}) {
		t.Error("a service watcher admits other events")
	}
	all := &subscriber{}
	if !all.admit(record{Event: evMemberJoin, Node: "x"}) {
		t.Error("a watcher of everything refuses a member event")
	}
}

// blockedWriter blocks every Write until release is closed.
type blockedWriter struct {
	release chan struct{}
	buf     syncBuffer
}

func (b *blockedWriter) Write(p []byte) (int, error) {
	<-b.release
	return b.buf.Write(p)
}

func TestAsyncWriterNeverBlocks(t *testing.T) {
	bw := &blockedWriter{release: make(chan struct{})}
	var dropped atomic.Int64
	w := newAsyncWriter(bw, 2, func(n int64) { dropped.Add(n) })
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 10 {
			fmt.Fprintf(w, "line %d\n", i)
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Write blocked behind a stalled reader")
	}
	close(bw.release)
	if !w.Close(5 * time.Second) {
		t.Fatal("Close did not flush after the reader resumed")
	}
	lines := bw.buf.lines()
	if len(lines) < 2 || int64(len(lines))+dropped.Load() != 10 || lines[0] != "line 0" {
		t.Errorf("wrote %q, dropped %d: want every line written or counted", lines, dropped.Load())
	}
}
