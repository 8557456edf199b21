package hostfile

import (
	"bytes"
	"errors"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const goldenDir = "testdata"

// TestGolden parses each hand-written input leniently and checks the
// reported bad lines and the hosts written back in every format against
// golden files.
func TestGolden(t *testing.T) {
	formats := []Format{Hosts, Erlang, Plain, JSON}
	for _, in := range formats {
		t.Run(in.String(), func(t *testing.T) {
			path := filepath.Join(goldenDir, in.String()+".input")
			hosts, err := ReadFile(path, &ParseOptions{Format: in, Lenient: true})
			var msgs []string
			for _, e := range unjoin(err) {
				var pe *ParseError
				if !errors.As(e, &pe) {
					t.Fatalf("ReadFile: %v", e)
				}
				pe.File = filepath.Base(pe.File)
				msgs = append(msgs, pe.Error()+"\n")
			}
			checkGolden(t, in.String()+".errors.golden", []byte(strings.Join(msgs, "")))

			// Detection agrees with the explicit format.
			auto, _ := ReadFile(path, &ParseOptions{Lenient: true})
			if diff := cmp.Diff(hosts, auto, hostCmp); diff != "" {
				t.Errorf("Auto parse differs (-explicit +auto):\n%s", diff)
			}
			for _, out := range formats {
				var buf bytes.Buffer
				if err := Write(&buf, out, hosts); err != nil {
					t.Fatalf("Write %v: %v", out, err)
				}
				checkGolden(t, in.String()+"-as-"+out.String()+".golden", buf.Bytes())
			}
		})
	}
}

func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join(goldenDir, name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", name, diff)
	}
}

// TestParseVerboseJSON: files written before empty keys were left out
// ("port": 0, "node": "", "conflict": [], "self": false...) parse to the
// same hosts as the current output, and null lists are accepted too.
func TestParseVerboseJSON(t *testing.T) {
	old, err := ReadFile(filepath.Join(goldenDir, "json-verbose.input"), &ParseOptions{Format: JSON})
	if err != nil {
		t.Fatal(err)
	}
	cur, err := ReadFile(filepath.Join(goldenDir, "json-as-json.golden"), &ParseOptions{Format: JSON})
	if err != nil {
		t.Fatal(err)
	}
	if len(cur) == 0 {
		t.Fatal("json-as-json.golden holds no hosts")
	}
	if diff := cmp.Diff(cur, old, hostCmp); diff != "" {
		t.Errorf("verbose JSON parses differently (-current +verbose):\n%s", diff)
	}
	nulls := `[{"ip":"192.0.2.1","port":0,"mac":"","vendor":"","names":null,"node":"","services":null,"conflict":null,"self":false}]`
	hosts, err := Parse(strings.NewReader(nulls), "nulls.json", &ParseOptions{Format: JSON})
	want := []Host{{Addr: netip.MustParseAddr("192.0.2.1")}}
	if err != nil || !cmp.Equal(hosts, want, hostCmp) {
		t.Errorf("Parse(%s) = %+v, %v; want %+v", nulls, hosts, err, want)
	}
}
