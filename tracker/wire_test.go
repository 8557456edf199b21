package tracker

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func sampleRecord() record {
	return record{Node: "node1@192.0.2.1", Boot: 1 << 60, Version: 7, Entries: []entry{
		{Service: "http", Key: "web", Version: 3, Meta: map[string]string{"load": "2", "port": "8080"}},
		{Service: "ssh", Key: "sshd", Version: 7},
	}}
}

func TestWireRoundTrip(t *testing.T) {
	t.Run("delta", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			in   delta
		}{
			{"put", delta{Node: "n@192.0.2.1", Boot: 42, Version: 1, Op: opPut, Service: "s", Key: "k", Meta: map[string]string{"a": "b"}}},
			{"del", delta{Node: "n@192.0.2.1", Boot: 42, Version: 2, Op: opDel, Service: "s", Key: "k"}},
			{"notice", delta{Node: "n@192.0.2.1", Boot: 42, Version: 3, Op: opNotice}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := decodeDelta(encodeDelta(&tc.in))
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tc.in, got); diff != "" {
					t.Errorf("(-want +got)\n%s", diff)
				}
			})
		}
	})
	t.Run("state", func(t *testing.T) {
		in := pushState{From: "n@192.0.2.1", Records: []record{sampleRecord()},
			Digest: []digestItem{{Node: "a@192.0.2.2", Boot: 1, Version: 2}}}
		got, err := decodeState(encodeState(&in), nil)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(in, got); diff != "" {
			t.Errorf("(-want +got)\n%s", diff)
		}
	})
	t.Run("sync", func(t *testing.T) {
		req := syncReq{From: "n@192.0.2.1", Nodes: []string{"a@192.0.2.2", "b@192.0.2.3"}}
		got, err := decodeSyncReq(encodeSyncReq(&req))
		if err != nil || !cmp.Equal(req, got) {
			t.Errorf("sync request: got %+v, %v", got, err)
		}
		rs := []record{sampleRecord()}
		gotRs, err := decodeSyncResp(syncResp(rs...))
		if err != nil || !cmp.Equal(rs, gotRs) {
			t.Errorf("sync response: got %+v, %v", gotRs, err)
		}
	})
	t.Run("leave_and_meta", func(t *testing.T) {
		l := leaveMsg{Node: "n@192.0.2.1", Boot: 9}
		if got, err := decodeLeave(encodeLeave(l)); err != nil || got != l {
			t.Errorf("leave: got %+v, %v", got, err)
		}
		m := nodeMeta{Boot: 9, PrevName: "old@192.0.2.9"}
		if got, err := decodeNodeMeta(encodeNodeMeta(m)); err != nil || got != m {
			t.Errorf("node meta: got %+v, %v", got, err)
		}
	})
}

func TestWireRejectsGarbage(t *testing.T) {
	good := encodeDelta(&delta{Node: "n", Boot: 1, Version: 1, Op: opPut, Service: "s", Key: "k"})
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"wrong_kind", append([]byte{kindState}, good[1:]...)},
		{"truncated", good[:len(good)-2]},
		{"trailing", append(append([]byte(nil), good...), 0)},
		{"bad_op", encodeDelta(&delta{Node: "n", Op: 9})},
		{"huge_count", []byte{kindDelta, 0xff, 0xff, 0xff, 0xff, 0x0f}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := decodeDelta(tc.b); err == nil {
				t.Error("decoded garbage")
			}
		})
	}
}

func FuzzDecodeDelta(f *testing.F) {
	f.Add(encodeDelta(&delta{Node: "n@192.0.2.1", Boot: 42, Version: 1, Op: opPut, Service: "s", Key: "k", Meta: map[string]string{"a": "b"}}))
	f.Add(encodeLeave(leaveMsg{Node: "n", Boot: 1}))
	f.Add(encodeSyncReq(&syncReq{From: "n", Nodes: []string{"a"}}))
	f.Add([]byte{kindDelta, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		if d, err := decodeDelta(b); err == nil {
			again, err := decodeDelta(encodeDelta(&d))
			if err != nil || !cmp.Equal(d, again, cmp.Comparer(metaEqual)) {
				t.Fatalf("round trip: %+v -> %+v, %v", d, again, err)
			}
		}
		decodeLeave(b)
		decodeSyncReq(b)
		decodeNodeMeta(b)
	})
}

// TestDecodeStateSkips: records the receiver holds are passed over
// without being kept; the others and the digest decode as sent.
func TestDecodeStateSkips(t *testing.T) {
	a, b := sampleRecord(), sampleRecord()
	b.Node = "b@192.0.2.3"
	in := pushState{From: "n@192.0.2.1", Records: []record{a}, Raw: [][]byte{encodeRecord(&b)},
		Digest: []digestItem{{Node: a.Node, Boot: a.Boot, Version: a.Version}}}
	var asked []string
	got, err := decodeState(encodeState(&in), func(from, node string, s stamp) bool {
		asked = append(asked, from+" "+node)
		return node == a.Node && s == a.stamp()
	})
	if err != nil {
		t.Fatal(err)
	}
	want := pushState{From: in.From, Records: []record{b}, Digest: in.Digest}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	if wantAsked := []string{in.From + " " + a.Node, in.From + " " + b.Node}; !cmp.Equal(asked, wantAsked) {
		t.Errorf("skip asked about %v, want %v", asked, wantAsked)
	}
}

func FuzzDecodeState(f *testing.F) {
	f.Add(encodeState(&pushState{From: "n", Records: []record{sampleRecord()}, Digest: []digestItem{{Node: "a", Boot: 1, Version: 2}}}))
	f.Add(syncResp(sampleRecord()))
	f.Add([]byte{kindState, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeState(b, nil)
		if err == nil {
			again, err := decodeState(encodeState(&s), nil)
			if err != nil || !cmp.Equal(s, again, cmp.Comparer(metaEqual)) {
				t.Fatalf("round trip: %+v -> %+v, %v", s, again, err)
			}
		}
		// Skipping every record keeps the framing checks: what decodes
		// whole decodes skipped, to the same sender and digest.
		skipped, errSkip := decodeState(b, func(string, string, stamp) bool { return true })
		if err == nil && (errSkip != nil || skipped.From != s.From || len(skipped.Records) != 0 ||
			!cmp.Equal(skipped.Digest, s.Digest)) {
			t.Fatalf("skipping records: %+v, %v; whole: %+v", skipped, errSkip, s)
		}
		decodeSyncResp(b)
	})
}

// metaEqual treats nil and empty meta alike (the wire does).
func metaEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestPeerAddr(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"host_port", "192.0.2.1:7000", "192.0.2.1:7000"},
		{"erlang_name", "node1@192.0.2.1", "192.0.2.1:7946"},
		{"erlang_name_port", "node1@192.0.2.1:7000", "192.0.2.1:7000"},
		{"bare_ip", "192.0.2.1", "192.0.2.1:7946"},
		{"ipv6", "n@2001:db8::1", "[2001:db8::1]:7946"},
		{"ipv6_port", "[2001:db8::1]:7000", "[2001:db8::1]:7000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := peerAddr(tc.in); got != tc.want {
				t.Errorf("peerAddr(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// syncResp encodes a sync response carrying rs.
func syncResp(rs ...record) []byte {
	var raw [][]byte
	for i := range rs {
		raw = append(raw, encodeRecord(&rs[i]))
	}
	return encodeRecords(kindSyncResp, raw)
}
