package sdjoincmd

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/miekg/dns"
)

// packView is sampleView with 200 providers of "many" on IPv4 and 40 of
// "six" on IPv6 nodes.
func packView() *testView {
	v := sampleView()
	mv := manyView(200)
	v.entries = append(v.entries, mv.entries...)
	v.members = append(v.members, mv.members...)
	for i := range 40 {
		node := fmt.Sprintf("s%d@2001:db8::%x", i, i+1)
		v.entries = append(v.entries, entry("six", node, fmt.Sprintf("[2001:db8::%x]:7946", i+1), map[string]string{"port": fmt.Sprint(30000 + i)}))
	}
	return v
}

// comparePack packs the reply z builds for req over UDP both ways: with
// packSRVReply (nil when it declines) and with miekg.
func comparePack(t testing.TB, z *dnsZone, req *dns.Msg) (fast, miekg []byte, size int) {
	var b replyBuf
	m, size := z.reply(&b, req, false)
	if m == nil {
		return nil, nil, 0
	}
	m.Compress = true
	fast = bytes.Clone(packSRVReply(m, nil, size, map[string]int{}))
	miekg, err := m.Pack()
	if err != nil {
		t.Fatalf("miekg packs no reply to %v: %v", req.Question, err)
	}
	return fast, miekg, size
}

// TestDNSPackSRVReplyMatchesMiekg: every SRV reply that fits is packed
// byte for byte as miekg packs it (shuffled afresh each time, mixed-case
// names, IPv4 and IPv6 targets, with and without EDNS0); one that does
// not fit, or is no SRV answer, is left to miekg.
func TestDNSPackSRVReplyMatchesMiekg(t *testing.T) {
	z := packView().zone(30)
	for _, tt := range []struct {
		name    string
		q       *dns.Msg
		fastFor bool // packSRVReply packs it
	}{
		{"srv_three_targets", ask("web.service.sdjoin.", dns.TypeSRV, 0), true},
		{"srv_mixed_case", ask("WeB.Service.SDJOIN.", dns.TypeSRV, 1232), true},
		{"srv_one_target", ask("db.service.sdjoin.", dns.TypeSRV, 4096), true},
		{"srv_ipv6_targets", ask("six.service.sdjoin.", dns.TypeSRV, 4096), true},
		{"srv_many_over_4096", ask("many.service.sdjoin.", dns.TypeSRV, 4096), false},
		{"srv_many_cut_at_512", ask("many.service.sdjoin.", dns.TypeSRV, 0), false},
		{"srv_nodata", ask("big.service.sdjoin.", dns.TypeSRV, 0), false},
		{"a_answer", ask("web.service.sdjoin.", dns.TypeA, 0), false},
		{"nxdomain", ask("nosuch.service.sdjoin.", dns.TypeSRV, 1232), false},
		{"escaped_name", ask("w\\.b.service.sdjoin.", dns.TypeSRV, 0), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for range 30 {
				fast, miekg, size := comparePack(t, z, tt.q)
				if fast != nil && !bytes.Equal(fast, miekg) {
					t.Fatalf("packSRVReply:\n%x\nmiekg:\n%x", fast, miekg)
				}
				if tt.fastFor && fast == nil {
					t.Fatalf("packSRVReply declined a reply of %d bytes (size %d)", len(miekg), size)
				}
				if !tt.fastFor && fast != nil {
					t.Fatalf("packSRVReply packed it (%d bytes)", len(fast))
				}
			}
		})
	}
}

// FuzzDNSPackSRVReply: whatever request, a reply packSRVReply packs is
// the one miekg packs.
func FuzzDNSPackSRVReply(f *testing.F) {
	for _, name := range []string{"web", "WEB", "db", "six", "many", "my\\ web"} {
		f.Add(packed(f, ask(name+".service.sdjoin.", dns.TypeSRV, 1232)))
		f.Add(packed(f, ask(name+".service.sdjoin.", dns.TypeSRV, 0)))
	}
	z := packView().zone(0)
	f.Fuzz(func(t *testing.T, in []byte) {
		req := new(dns.Msg)
		if req.Unpack(in) != nil {
			return
		}
		if fast, miekg, _ := comparePack(t, z, req); fast != nil && !bytes.Equal(fast, miekg) {
			t.Fatalf("request %x:\npackSRVReply:\n%x\nmiekg:\n%x", in, fast, miekg)
		}
	})
}
