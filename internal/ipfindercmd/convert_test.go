package ipfindercmd_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ipfinder-go/ipfinder/internal/cliutil"
	"github.com/ipfinder-go/ipfinder/internal/ipfindercmd"
)

// writeFile writes data to path, or fails the test.
func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestConvert(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "hosts")
	writeFile(t, in, "192.0.2.11 beta.local\n192.0.2.10 alpha.local alpha\n")
	empty := filepath.Join(dir, "empty")
	writeFile(t, empty, "# nothing found upstream\n")
	bad := filepath.Join(dir, "bad")
	writeFile(t, bad, "192.0.2.10 alpha\n321.321.321.321 nope\n")
	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     string
		stderrPart string
	}{
		{name: "to_erlang", args: []string{"convert", "-f", "erlang", in}, stdout: "% Written by ipfinder (github.com/ipfinder-go/ipfinder/hostfile); edits are overwritten.\n'192.0.2.10'.\n'192.0.2.11'.\n"},
		{name: "to_plain", args: []string{"convert", "-f", "plain", in}, stdout: "# Written by ipfinder (github.com/ipfinder-go/ipfinder/hostfile); edits are overwritten.\n192.0.2.10\n192.0.2.11\n"},
		{name: "flags_after_file", args: []string{"convert", in, "-f", "plain"}, stdout: "# Written by ipfinder (github.com/ipfinder-go/ipfinder/hostfile); edits are overwritten.\n192.0.2.10\n192.0.2.11\n"},
		{name: "two_files", args: []string{"convert", in, in}, code: 2, stderrPart: "convert: unexpected argument"},
		{name: "bad_line", args: []string{"convert", bad}, code: 1, stderrPart: bad + " line 2: bad address \"321.321.321.321\""},
		{name: "empty_input_writes_nothing", args: []string{"convert", "-o", in, empty}, code: 3, stderrPart: "holds no hosts"},
		{name: "missing_file", args: []string{"convert", filepath.Join(dir, "nope")}, code: 1, stderrPart: "no such file"},
		{name: "bad_format", args: []string{"convert", "-f", "yaml", in}, code: 2, stderrPart: `unknown format "yaml"`},
	}
	before, _ := os.ReadFile(in)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if got, _ := os.ReadFile(in); !bytes.Equal(got, before) {
					t.Errorf("%s changed", in)
				}
			}()
			var stdout, stderr bytes.Buffer
			code := cliutil.Run(context.Background(), ipfindercmd.App(&stdout, &stderr), append([]string{"ipfinder"}, tt.args...))
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, tt.code, stderr.String())
			}
			if tt.stdout != "" && stdout.String() != tt.stdout {
				t.Errorf("stdout:\n%s\nwant:\n%s", stdout.String(), tt.stdout)
			}
			if !bytes.Contains(stderr.Bytes(), []byte(tt.stderrPart)) || bytes.Count(stderr.Bytes(), []byte("\n")) > 1 {
				t.Errorf("stderr %q: want one line with %q", stderr.String(), tt.stderrPart)
			}
		})
	}
}
