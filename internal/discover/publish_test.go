package discover

import (
	"log/slog"
	"net"
	"strings"
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

// sink is a net.PacketConn that keeps what is written and reads nothing.
type sink struct {
	net.PacketConn // nil: only WriteTo is used
	sent           [][]byte
}

func (s *sink) WriteTo(b []byte, _ net.Addr) (int, error) {
	s.sent = append(s.sent, append([]byte(nil), b...))
	return len(b), nil
}

// publishing returns an Agent (no goroutines) publishing web instances
// on a sink.
func publishing(t testing.TB) (*Agent, *sink) {
	s := &sink{}
	a := &Agent{conn: s, log: slog.New(slog.DiscardHandler), pub: map[string]Instance{}, fresh: map[string]bool{},
		kick: make(chan struct{}, 1), host: "sdjoin-192-0-2-1.local."}
	a.addrRR = &dns.A{Hdr: header(a.host, dns.TypeA, true, ttl), A: net.IPv4(192, 0, 2, 1)}
	if err := a.Publish([]Instance{{Name: "n@192.0.2.1", Service: "web", Port: 80, TXT: []string{"port=80"}}}); err != nil {
		t.Fatal(err)
	}
	return a, s
}

// TestAnswer: queries for the service type, the meta-query, the instance
// and the host are answered; others are not.
func TestAnswer(t *testing.T) {
	for _, tc := range []struct {
		name  string
		qname string
		qtype uint16
		want  string // a record the answer must hold, "" for no answer
	}{
		{"service_type", "_web._tcp.local.", dns.TypePTR, "SRV\t0 0 80 sdjoin-192-0-2-1.local."},
		{"meta_query", "_services._dns-sd._udp.local.", dns.TypePTR, "_web._tcp.local."},
		{"instance_srv", `N\@192\.0\.2\.1._WEB._tcp.local.`, dns.TypeSRV, "SRV\t0 0 80 sdjoin-192-0-2-1.local."},
		{"instance_txt_ddd", `n\064192\.0\.2\.1._web._tcp.local.`, dns.TypeTXT, `"port=80"`},
		{"host_a", "sdjoin-192-0-2-1.local.", dns.TypeA, "192.0.2.1"},
		{"other_type", "_ssh._tcp.local.", dns.TypePTR, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, s := publishing(t)
			m := new(dns.Msg)
			m.Question = []dns.Question{{Name: tc.qname, Qtype: tc.qtype, Qclass: dns.ClassINET}}
			a.answer(m)
			var got strings.Builder
			for _, p := range s.sent {
				var r dns.Msg
				if err := r.Unpack(p); err != nil {
					t.Fatal(err)
				}
				got.WriteString(r.String())
			}
			if tc.want == "" && len(s.sent) > 0 || !strings.Contains(got.String(), tc.want) {
				t.Errorf("answer to %s %s:\n%s\nwant one holding %q", tc.qname, dns.TypeToString[tc.qtype], got.String(), tc.want)
			}
		})
	}
}

// FuzzHandle: no packet makes the agent panic, and answers stay within
// maxPacket.
func FuzzHandle(f *testing.F) {
	q := new(dns.Msg)
	q.Question = []dns.Question{{Name: "_web._tcp.local.", Qtype: dns.TypePTR, Qclass: dns.ClassINET}}
	b, _ := q.Pack()
	f.Add(b)
	f.Fuzz(func(t *testing.T, pkt []byte) {
		a, s := publishing(t)
		a.handle(pkt)
		for _, p := range s.sent {
			if len(p) > maxPacket {
				t.Errorf("sent %d bytes", len(p))
			}
		}
	})
}
