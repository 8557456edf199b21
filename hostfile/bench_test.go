package hostfile

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"testing"
)

// benchHosts returns n hosts as a sweep finds them: address, MAC and a
// name, plus a node name (which the plain and Erlang formats write).
func benchHosts(n int) []Host {
	hosts := make([]Host, n)
	a := netip.MustParseAddr("10.0.0.1")
	for i := range hosts {
		hosts[i] = Host{
			Addr:  a,
			Names: []string{fmt.Sprintf("host%d.local", i)},
			Node:  fmt.Sprintf("app@%s", a),
			MAC:   net.HardwareAddr{0, 0, 0x5e, byte(i >> 16), byte(i >> 8), byte(i)},
		}
		a = a.Next()
	}
	return hosts
}

// BenchmarkParse parses files of 50k and 200k hosts in every format; ns/op
// should grow linearly with the number of hosts.
func BenchmarkParse(b *testing.B) {
	for _, f := range []Format{JSON, Hosts, Plain, Erlang} {
		for _, n := range []int{50_000, 200_000} {
			var buf bytes.Buffer
			if err := Write(&buf, f, benchHosts(n)); err != nil {
				b.Fatal(err)
			}
			data := buf.Bytes()
			b.Run(fmt.Sprintf("%v/%dk", f, n/1000), func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					hosts, err := Parse(bytes.NewReader(data), "bench", &ParseOptions{Format: f})
					if err != nil || len(hosts) != n {
						b.Fatalf("parsed %d hosts, err %v; want %d", len(hosts), err, n)
					}
				}
			})
		}
	}
}

// BenchmarkParseHostile parses, leniently, Erlang files of 10k and 40k bad
// lines that once made the scanner look to the end of the file from every
// line: unterminated \x{ escapes.
func BenchmarkParseHostile(b *testing.B) {
	for _, c := range []struct{ name, line string }{
		{"unterminated_hex_escape", "'\\x{41'.\n"},
	} {
		for _, n := range []int{10_000, 40_000} {
			data := bytes.Repeat([]byte(c.line), n)
			b.Run(fmt.Sprintf("%s/%dk", c.name, n/1000), func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					if _, err := Parse(bytes.NewReader(data), "bench", &ParseOptions{Format: Erlang, Lenient: true}); err == nil {
						b.Fatal("no error")
					}
				}
			})
		}
	}
}
