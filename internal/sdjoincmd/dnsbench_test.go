package sdjoincmd

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/miekg/dns"

	"github.com/ipfinder-go/ipfinder/tracker"
)

// BenchmarkDNSReply: the handler's work for one SRV query (building,
// trimming and packing the reply) on a core whose tracker holds 1000
// entries in 50 services.
func BenchmarkDNSReply(b *testing.B) {
	tr, err := tracker.New(&tracker.Config{Name: "bench@127.0.0.1", BindAddr: netip.MustParseAddrPort("127.0.0.1:0")})
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	for i := range 1000 {
		if _, err := tr.Track(fmt.Sprint("svc", i%50), fmt.Sprint("k", i), map[string]string{"port": fmt.Sprint(20000 + i)}); err != nil {
			b.Fatal(err)
		}
	}
	c := &core{t: tr}
	cache := &dnsCache{services: c.services, list: c.listServices}
	z := &dnsZone{domain: "sdjoin.", list: cache.lookup, members: c.members}
	q := ask("svc7.service.sdjoin.", dns.TypeSRV, 1232)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := z.reply(q, false).Pack(); err != nil {
			b.Fatal(err)
		}
	}
}
