package hostfile

import (
	"bytes"
	"errors"
	"flag"
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
