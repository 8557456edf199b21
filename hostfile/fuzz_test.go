package hostfile

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fuzzSeeds are inputs of every format, good and bad, for every fuzzer.
var fuzzSeeds = []string{
	"",
	"# c\n192.0.2.1 a.example a\n2001:db8::1\tb # x\n321.321.321.321 bad\n192.0.2.2\n",
	"fe80::1%eth0 link\n::ffff:192.0.2.1 mapped\n",
	"% c\n'192.0.2.5'.\n'app@192.0.2.6'. 'beta'.\nbare@host .\n'o\\'n\\\\@h'.\n'\\x{41}\\101'.\n",
	"'unterminated.\n\"str\".\nend.\n'a'.'b'.\n",
	"192.0.2.1\nname\n192.0.2.2:80\n[2001:db8::1]:443\nh:22\napp@h\n",
	"a:0\n[::1]\n@h\na b\n",
	`[{"ip":"192.0.2.1","port":1,"mac":"00:00:5e:00:53:01","vendor":"v","names":["a"],"node":"n@a",` +
		`"services":["_ssh._tcp"],"conflict":["00:00:5e:00:53:02"],"last_seen":"2024-05-01T10:00:00Z","self":true}]`,
	`[{"ip":"x"}, 1, null, {"names":["b"]}, {"port":70000}]`,
	`[{"ip":"192.0.2.3","names":["pc3.lan","pc3"],"sources":{"pc3.lan":"dns","pc3":"netbios","x y":"z"},"workgroup":"WG"},{"ip":"192.0.2.4","sources":{},"workgroup":"\u0001"}]`,
	"[\n{\"ip\":}]",
	`[{"ip":"192.0.2.7","names":["v"],"ipv6":["2001:db8::7","fe80::7%eth0","fd00::7","2001:db8::7"]},{"ip":"192.0.2.8","ipv6":["::ffff:1.2.3.4"]}]`,
	"[2001:db8::1]:7946\n[::1]:1\n",
	"alpha.\nx@h.\n'q@h\n%p@h\n[b@h\n",
}

func fuzzParser(f *testing.F, format Format) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, lenient := range []bool{false, true} {
			hosts, err := Parse(bytes.NewReader(data), "fuzz", &ParseOptions{Format: format, Lenient: lenient})
			if err != nil && !lenient {
				continue
			}
			if format == Auto {
				continue // detection picks the parser; the others check round trips
			}
			roundTrip(t, format, hosts)
		}
	})
}

// roundTrip checks that hosts, as parsed, write and parse back to the same
// hosts, and that writing again gives the same bytes.
func roundTrip(t *testing.T, format Format, hosts []Host) {
	t.Helper()
	var out bytes.Buffer
	if err := Write(&out, format, hosts); err != nil {
		t.Fatalf("Write of parsed hosts %v: %v", hosts, err)
	}
	again, err := Parse(bytes.NewReader(out.Bytes()), "written", &ParseOptions{Format: format})
	if err != nil {
		t.Fatalf("Parse of written output: %v\n%s", err, out.String())
	}
	if diff := cmp.Diff(sortedHosts(hosts), again, hostCmp); diff != "" {
		t.Fatalf("round trip (-want +got):\n%s\noutput:\n%s", diff, out.String())
	}
	var out2 bytes.Buffer
	if err := Write(&out2, format, again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), out2.Bytes()) {
		t.Fatalf("second write differs:\n%s\n---\n%s", out.String(), out2.String())
	}
}

func FuzzParseHosts(f *testing.F)  { fuzzParser(f, Hosts) }
func FuzzParseErlang(f *testing.F) { fuzzParser(f, Erlang) }
func FuzzParsePlain(f *testing.F)  { fuzzParser(f, Plain) }
func FuzzParseJSON(f *testing.F)   { fuzzParser(f, JSON) }
func FuzzParseAuto(f *testing.F)   { fuzzParser(f, Auto) }

// FuzzDetectWritten checks that whatever a writer writes is detected as
// its format: parsing it with Auto gives the hosts that parsing it with
// its format gives. The hosts to write come from parsing the input in
// every format.
func FuzzDetectWritten(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	formats := []Format{Hosts, Erlang, Plain, JSON}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, from := range formats {
			hosts, _ := Parse(bytes.NewReader(data), "fuzz", &ParseOptions{Format: from, Lenient: true})
			for _, to := range formats {
				var out bytes.Buffer
				if err := Write(&out, to, hosts); err != nil {
					t.Fatalf("Write %v of hosts parsed as %v: %v", to, from, err)
				}
				want, err := Parse(bytes.NewReader(out.Bytes()), "written", &ParseOptions{Format: to})
				if err != nil {
					t.Fatalf("Parse %v of written output: %v\n%s", to, err, out.String())
				}
				if got := detect(out.Bytes()); len(want) > 0 && got != to {
					t.Fatalf("%v output detected as %v:\n%s", to, got, out.String())
				}
				got, err := Parse(bytes.NewReader(out.Bytes()), "written", nil)
				if err != nil {
					t.Fatalf("Parse auto of %v output: %v\n%s", to, err, out.String())
				}
				if diff := cmp.Diff(want, got, hostCmp); diff != "" {
					t.Fatalf("auto parse of %v output (-want +got):\n%s\n%s", to, diff, out.String())
				}
			}
		}
	})
}
