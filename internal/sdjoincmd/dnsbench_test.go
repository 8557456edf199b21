package sdjoincmd

import (
	"fmt"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/ipfinder-go/ipfinder/tracker"
)

// benchZone is a zone answering from a core whose tracker holds 1000
// entries in 50 services.
func benchZone(b *testing.B) *dnsZone {
	tr, err := tracker.New(&tracker.Config{Name: "bench@127.0.0.1", BindAddr: netip.MustParseAddrPort("127.0.0.1:0")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tr.Close() })
	for i := range 1000 {
		if _, err := tr.Track(fmt.Sprint("svc", i%50), fmt.Sprint("k", i), map[string]string{"port": fmt.Sprint(20000 + i)}); err != nil {
			b.Fatal(err)
		}
	}
	c := &core{t: tr}
	cache := &dnsCache{services: c.services, list: c.listServices}
	return &dnsZone{domain: "sdjoin.", list: cache.lookup, members: c.members}
}

// BenchmarkDNSReply: the handler's work for one SRV query (building,
// trimming and packing the reply, in a replyBuf reused as a UDP reader
// does) on benchZone.
func BenchmarkDNSReply(b *testing.B) {
	z := benchZone(b)
	q := ask("svc7.service.sdjoin.", dns.TypeSRV, 1232)
	var rb replyBuf
	b.ReportAllocs()
	start := selfCPU(b)
	for b.Loop() {
		if z.respondWith(&rb, q, false) == nil {
			b.Fatal("no reply")
		}
	}
	// CPU time, unlike ns/op, hardly depends on other processes' load.
	b.ReportMetric(float64(selfCPU(b)-start)/float64(b.N), "cpu-ns/op")
}

// BenchmarkDNSUDPAnswer: a UDP reader's work for one SRV query packet
// but the two system calls: unpacking, BenchmarkDNSReply's work.
func BenchmarkDNSUDPAnswer(b *testing.B) {
	r := newUDPReader(benchZone(b))
	pkt, err := ask("svc7.service.sdjoin.", dns.TypeSRV, 1232).Pack()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	start := selfCPU(b)
	for b.Loop() {
		if r.answer(pkt) == nil {
			b.Fatal("no reply")
		}
	}
	b.ReportMetric(float64(selfCPU(b)-start)/float64(b.N), "cpu-ns/op")
}

// selfCPU returns this process's user and system time.
func selfCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
