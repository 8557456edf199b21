package scan

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/mdns"
	"github.com/miekg/dns"
)

// fakeResponder answers mDNS queries on loopback from a zone, the way
// avahi does: PTR answers carry the instance's SRV and TXT and the
// target's A record as additional records.
type fakeResponder struct {
	conn net.PacketConn
	zone []dns.RR
	drop func(q dns.Question, n int) bool // drop the n-th query of q (1-based)

	mu   sync.Mutex
	seen map[dns.Question]int
}

func startResponder(t *testing.T, zone []string, drop func(dns.Question, int) bool) *fakeResponder {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &fakeResponder{conn: conn, drop: drop, seen: make(map[dns.Question]int)}
	for _, s := range zone {
		r.zone = append(r.zone, rr(t, s))
	}
	var wg sync.WaitGroup
	wg.Go(r.serve)
	t.Cleanup(func() {
		conn.Close()
		wg.Wait()
	})
	return r
}

func (r *fakeResponder) serve() {
	buf := make([]byte, maxPacket)
	for {
		n, from, err := r.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		var q dns.Msg
		if q.Unpack(buf[:n]) != nil {
			continue
		}
		resp := &dns.Msg{MsgHdr: dns.MsgHdr{Response: true, Authoritative: true}}
		for _, qq := range q.Question {
			qq.Qclass &^= 1 << 15
			r.mu.Lock()
			r.seen[qq]++
			dropped := r.drop != nil && r.drop(qq, r.seen[qq])
			r.mu.Unlock()
			if !dropped {
				r.answer(resp, qq)
			}
		}
		if len(resp.Answer) == 0 {
			continue
		}
		b, err := resp.Pack()
		if err != nil {
			continue
		}
		r.conn.WriteTo(b, from)
	}
}

func (r *fakeResponder) answer(resp *dns.Msg, q dns.Question) {
	for _, a := range r.find(q.Name, q.Qtype) {
		resp.Answer = append(resp.Answer, a)
		ptr, ok := a.(*dns.PTR)
		if !ok {
			continue
		}
		resp.Extra = append(resp.Extra, r.find(ptr.Ptr, dns.TypeTXT)...)
		for _, srv := range r.find(ptr.Ptr, dns.TypeSRV) {
			resp.Extra = append(resp.Extra, srv)
			resp.Extra = append(resp.Extra, r.find(srv.(*dns.SRV).Target, dns.TypeA)...)
		}
	}
}

func (r *fakeResponder) find(name string, t uint16) []dns.RR {
	var out []dns.RR
	for _, x := range r.zone {
		if strings.EqualFold(x.Header().Name, name) && x.Header().Rrtype == t {
			out = append(out, x)
		}
	}
	return out
}

func (r *fakeResponder) queries(q dns.Question) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[q]
}

// labZone is what avahi on two lab hosts publishes.
var labZone = []string{
	"_services._dns-sd._udp.local. 4500 IN PTR _ssh._tcp.local.",
	"_services._dns-sd._udp.local. 4500 IN PTR _http._tcp.local.",
	`_ssh._tcp.local. 4500 IN PTR ssh\ on\ labhost2._ssh._tcp.local.`,
	`ssh\ on\ labhost2._ssh._tcp.local. 120 IN SRV 0 0 22 labhost2.local.`,
	`ssh\ on\ labhost2._ssh._tcp.local. 4500 IN TXT ""`,
	"_http._tcp.local. 4500 IN PTR web._http._tcp.local.",
	"web._http._tcp.local. 120 IN SRV 0 0 80 labhost3.local.",
	`web._http._tcp.local. 4500 IN TXT "path=/"`,
	"labhost2.local. 120 IN A 192.0.2.2",
	"labhost3.local. 120 IN A 192.0.2.3",
	"2.2.0.192.in-addr.arpa. 120 IN PTR labhost2.local.",
	"3.2.0.192.in-addr.arpa. 120 IN PTR labhost3.local.",
	"4.2.0.192.in-addr.arpa. 120 IN PTR labhost4.local.", // only found through addrs
}

var labWant = []MDNSHost{
	{Addr: netip.MustParseAddr("192.0.2.2"), Names: []string{"labhost2.local"}, Services: []string{"_ssh._tcp"}},
	{Addr: netip.MustParseAddr("192.0.2.3"), Names: []string{"labhost3.local"}, Services: []string{"_http._tcp"}},
	{Addr: netip.MustParseAddr("192.0.2.4"), Names: []string{"labhost4.local"}},
}

// browseLoopback runs a browse against r over loopback.
func browseLoopback(t *testing.T, ctx context.Context, r *fakeResponder, addrs <-chan netip.Addr, cfg *MDNSConfig, resolve resolveFunc) ([]MDNSHost, error) {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(conn, r.conn.LocalAddr(), cfg)
	b.resolve = resolve
	return b.run(ctx, addrs)
}

func feed(addrs ...string) <-chan netip.Addr {
	ch := make(chan netip.Addr, len(addrs))
	for _, a := range addrs {
		ch <- netip.MustParseAddr(a)
	}
	close(ch)
	return ch
}

func TestBrowseLoopback(t *testing.T) {
	dropFirst := func(_ dns.Question, n int) bool { return n == 1 }
	tests := []struct {
		name  string
		drop  func(dns.Question, int) bool
		addrs []string
		want  []MDNSHost
	}{
		{name: "browse_and_reverse", addrs: []string{"192.0.2.4", "192.0.2.9", "192.0.2.2"}, want: labWant},
		{name: "browse_only", want: labWant[:2]},
		{name: "first_query_of_each_question_lost", drop: dropFirst, addrs: []string{"192.0.2.4"}, want: labWant},
		{name: "every_query_lost", drop: func(dns.Question, int) bool { return true }, addrs: []string{"192.0.2.4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := startResponder(t, labZone, tt.drop)
			cfg := &MDNSConfig{Timeout: 10 * time.Second, Quiet: 100 * time.Millisecond}
			start := time.Now()
			got, err := browseLoopback(t, t.Context(), r, feed(tt.addrs...), cfg, nil)
			elapsed := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpAddr); diff != "" {
				t.Errorf("BrowseMDNS (-want +got):\n%s", diff)
			}
			if elapsed > 5*time.Second {
				t.Errorf("browse took %v: did not finish when the link went quiet", elapsed)
			}
			t.Logf("browse took %v", elapsed)
			// A question without an answer is sent exactly twice.
			if n := r.queries(reverseQuestion(netip.MustParseAddr("192.0.2.9"))); len(tt.addrs) > 1 && n != 2 {
				t.Errorf("unanswered reverse question sent %d times, want 2", n)
			}
		})
	}
}

// TestBrowseResolverEntries checks that entries of the instance resolver
// (hashicorp/mdns in BrowseMDNS) are attributed, even when it sends more
// than an unbuffered channel would take.
func TestBrowseResolverEntries(t *testing.T) {
	r := startResponder(t, labZone[:2], nil) // only the service types
	var mu sync.Mutex
	var types []string
	resolve := func(ctx context.Context, typ string, window time.Duration, out chan<- *mdns.ServiceEntry) error {
		mu.Lock()
		types = append(types, typ)
		mu.Unlock()
		if typ != "_ssh._tcp" {
			return nil
		}
		for i := range 50 {
			e := &mdns.ServiceEntry{
				Name:   "inst" + itoa(i) + "._ssh._tcp.local.",
				Host:   "labhost5.local.",
				AddrV4: net.IPv4(192, 0, 2, 5),
				Port:   22,
			}
			select { // a non-blocking send, like hashicorp/mdns
			case out <- e:
			default:
				t.Errorf("entry %d dropped", i)
			}
		}
		return errors.New("resolver failures are only logged")
	}
	cfg := &MDNSConfig{Timeout: 10 * time.Second, Quiet: 100 * time.Millisecond}
	got, err := browseLoopback(t, t.Context(), r, nil, cfg, resolve)
	if err != nil {
		t.Fatal(err)
	}
	want := []MDNSHost{{Addr: netip.MustParseAddr("192.0.2.5"), Names: []string{"labhost5.local"}, Services: []string{"_ssh._tcp"}}}
	if diff := cmp.Diff(want, got, cmpAddr); diff != "" {
		t.Errorf("BrowseMDNS (-want +got):\n%s", diff)
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff([]string{"_http._tcp", "_ssh._tcp"}, types, cmpSorted); diff != "" {
		t.Errorf("resolved types (-want +got):\n%s", diff)
	}
}

var cmpSorted = cmp.Transformer("sort", func(in []string) []string {
	out := append([]string(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
})

func TestBrowseEnds(t *testing.T) {
	never := make(chan netip.Addr) // never closed: more addresses may come
	tests := []struct {
		name    string
		timeout time.Duration
		ctx     time.Duration
		wantErr error
	}{
		{name: "timeout_with_open_addrs", timeout: 300 * time.Millisecond, ctx: time.Minute},
		{name: "context_ends_first", timeout: time.Minute, ctx: 300 * time.Millisecond, wantErr: context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := startResponder(t, labZone, nil)
			ctx, cancel := context.WithTimeout(t.Context(), tt.ctx)
			defer cancel()
			start := time.Now()
			got, err := browseLoopback(t, ctx, r, never, &MDNSConfig{Timeout: tt.timeout}, nil)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if elapsed := time.Since(start); elapsed > 5*time.Second {
				t.Errorf("took %v", elapsed)
			}
			if diff := cmp.Diff(labWant[:2], got, cmpAddr); diff != "" {
				t.Errorf("partial result (-want +got):\n%s", diff)
			}
		})
	}
}
