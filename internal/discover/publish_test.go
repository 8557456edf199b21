package discover

import (
	"testing"

	"github.com/miekg/dns"
)

func TestValidServiceName(t *testing.T) {
	for s, want := range map[string]bool{
		"web": true, "http": true, "x-y": true, "a1": true, "123a": true, "abcdefghijklmno": true,
		"": false, "123": false, "-web": false, "web-": false, "a--b": false, "_web": false,
		"abcdefghijklmnop": false, "we b": false, "wéb": false, "web.x": false,
	} {
		if got := ValidServiceName(s); got != want {
			t.Errorf("ValidServiceName(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestPackSplits: groups over maxPacket go out in several packets, each
// group whole in one, every packet a valid response.
func TestPackSplits(t *testing.T) {
	var groups [][]dns.RR
	for i := range MaxPublished {
		in := Instance{Name: string(rune('a'+i%26)) + string(make([]byte, 40)), Service: "web", Port: uint16(1000 + i), TXT: []string{string(make([]byte, 200))}}
		in.Name = in.Name[:1] + string(rune('A'+i/26)) + "x"
		groups = append(groups, in.records("h.local.", ttl))
	}
	pkts, err := pack(groups)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkts) < 2 {
		t.Fatalf("%d packets, want several", len(pkts))
	}
	total := 0
	for _, p := range pkts {
		if len(p) > maxPacket {
			t.Errorf("packet of %d bytes, want at most %d", len(p), maxPacket)
		}
		var m dns.Msg
		if err := m.Unpack(p); err != nil || !m.Response {
			t.Fatalf("packet does not unpack as a response: %v", err)
		}
		if len(m.Answer)%3 != 0 {
			t.Errorf("packet with %d records: a group was split", len(m.Answer))
		}
		total += len(m.Answer)
	}
	if total != 3*MaxPublished {
		t.Errorf("%d records sent, want %d", total, 3*MaxPublished)
	}
}
