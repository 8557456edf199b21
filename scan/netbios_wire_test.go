package scan

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"os"
	"strings"
	"testing"
)

// sambaNBSTAT is a node status response of Samba 4.17's nmbd (netbios name
// SAMBA1, workgroup LABGROUP) to the query with ID 0x1234, as captured in
// a lab.
func sambaNBSTAT(t testing.TB) []byte {
	t.Helper()
	h, err := os.ReadFile("testdata/nbstat-samba.hex")
	if err != nil {
		t.Fatal(err)
	}
	b, err := hex.DecodeString(strings.TrimSpace(string(h)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// nbEntry is one node name entry: name, suffix and flags.
type nbEntry struct {
	name   string
	suffix byte
	flags  uint16
}

// nbstatResponse builds a node status response with ID id and the entries,
// with the answer's name as a compression-free encoded name and 46 bytes
// of statistics.
func nbstatResponse(id uint16, entries ...nbEntry) []byte {
	b := make([]byte, 12)
	binary.BigEndian.PutUint16(b[0:], id)
	binary.BigEndian.PutUint16(b[2:], 0x8400)
	binary.BigEndian.PutUint16(b[6:], 1)
	b = append(b, nbstatName...)
	b = append(b, 0, nbstatType, 0, nbClassIN, 0, 0, 0, 0)
	rdata := []byte{byte(len(entries))}
	for _, e := range entries {
		name := []byte(e.name + strings.Repeat(" ", max(0, nbNameLen-len(e.name))))[:nbNameLen]
		rdata = append(rdata, name...)
		rdata = append(rdata, e.suffix)
		rdata = binary.BigEndian.AppendUint16(rdata, e.flags)
	}
	rdata = append(rdata, make([]byte, 46)...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(rdata)))
	return append(b, rdata...)
}

func TestNBSTATQueryIsWhatNbtscanSends(t *testing.T) {
	// nmblookup -A and nbtscan send this, with their own ID.
	want, _ := hex.DecodeString("abcd00000001000000000000" + "20434b" + strings.Repeat("41", 30) + "00" + "00210001")
	if got := nbstatQuery(0xabcd); !bytes.Equal(got, want) {
		t.Errorf("nbstatQuery =\n%x, want\n%x", got, want)
	}
}

func TestParseNBSTAT(t *testing.T) {
	const id = 0x1234
	unique := func(n string, suffix byte) nbEntry { return nbEntry{n, suffix, 0x0400} }
	group := func(n string, suffix byte) nbEntry { return nbEntry{n, suffix, 0x8400} }
	withQuestion := nbstatResponse(id, unique("PC7", 0))
	binary.BigEndian.PutUint16(withQuestion[4:], 1) // echo the question, then point to it
	withQuestion = append(withQuestion[:12], append([]byte(nbstatName+"\x00\x21\x00\x01\xc0\x0c"), withQuestion[12+len(nbstatName):]...)...)
	tests := []struct {
		name    string
		in      []byte
		want    nbstat
		wantErr string
	}{
		{name: "samba_nmbd", in: sambaNBSTAT(t), want: nbstat{"samba1", "LABGROUP"}},
		{name: "windows_order", in: nbstatResponse(id, group("WORKGROUP", 0), unique("DESKTOP-7Q2", 0x20), unique("DESKTOP-7Q2", 0)), want: nbstat{"desktop-7q2", "WORKGROUP"}},
		{name: "server_name_only", in: nbstatResponse(id, unique("PRINTER", 0x20)), want: nbstat{name: "printer"}},
		{name: "question_echoed_and_pointer", in: withQuestion, want: nbstat{name: "pc7"}},
		{name: "deregistering_name_skipped", in: nbstatResponse(id, nbEntry{"OLD", 0, 0x1400}, unique("NEW", 0)), want: nbstat{name: "new"}},
		{name: "non_ascii_name_skipped", in: nbstatResponse(id, unique("CAF\xc9", 0), unique("CAFE2", 0)), want: nbstat{name: "cafe2"}},
		{name: "inner_space_kept_for_the_caller", in: nbstatResponse(id, unique("MY PC", 0)), want: nbstat{name: "my pc"}},
		{name: "group_only", in: nbstatResponse(id, group("WORKGROUP", 0)), wantErr: "no machine name"},
		{name: "no_entries", in: nbstatResponse(id), wantErr: "no machine name"},
		{name: "other_id", in: nbstatResponse(id+1, unique("PC", 0)), wantErr: "transaction ID"},
		{name: "query_not_response", in: nbstatQuery(id), wantErr: "not a response"},
		{name: "empty", in: nil, wantErr: "truncated"},
		{name: "header_only", in: sambaNBSTAT(t)[:12], wantErr: "truncated"},
		{name: "cut_in_entries", in: sambaNBSTAT(t)[:80], wantErr: "truncated"},
		{name: "count_beyond_rdata", in: func() []byte {
			b := nbstatResponse(id, unique("PC", 0))
			b[12+len(nbstatName)+10] = 200
			return b
		}(), wantErr: "truncated"},
		{name: "rcode", in: func() []byte {
			b := nbstatResponse(id, unique("PC", 0))
			b[3] |= 3
			return b
		}(), wantErr: "rcode 3"},
		{name: "other_type", in: func() []byte {
			b := nbstatResponse(id, unique("PC", 0))
			b[12+len(nbstatName)+1] = 0x20 // NB, not NBSTAT
			return b
		}(), wantErr: "want NBSTAT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseNBSTAT(tt.in, id)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseNBSTAT() = %+v, %v; want error %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("parseNBSTAT() = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func FuzzParseNBSTAT(f *testing.F) {
	f.Add(sambaNBSTAT(f))
	f.Add(nbstatResponse(0x1234, nbEntry{"PC", 0x20, 0x0400}, nbEntry{"WG", 0, 0x8400}))
	f.Add(nbstatQuery(0x1234))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := parseNBSTAT(b, 0x1234)
		if err != nil {
			return
		}
		if st.name == "" || st.name != strings.ToLower(st.name) {
			t.Fatalf("name %q: want a non-empty lower case name", st.name)
		}
		for _, s := range []string{st.name, st.workgroup} {
			if len(s) > nbNameLen || strings.HasSuffix(s, " ") || strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r > '~' }) {
				t.Fatalf("name %q: want at most 15 printable ASCII bytes, unpadded", s)
			}
		}
	})
}
