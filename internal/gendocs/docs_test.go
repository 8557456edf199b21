package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// root is the repository root, from this package's directory.
const root = "../.."

// TestDocsFresh fails when a checked-in man page or completion script
// differs from what the command definitions generate now.
func TestDocsFresh(t *testing.T) {
	files, err := render()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 8 {
		t.Errorf("render gave %d files, want 8 (a man page and 3 completions per command)", len(files))
	}
	for _, f := range files {
		got, err := os.ReadFile(filepath.Join(root, f.path))
		if err != nil || !bytes.Equal(got, f.data) {
			t.Errorf("%s is stale: run `%s`", f.path, regenerate)
		}
	}
}

// TestManRenders renders each man page with groff, warnings on: it must
// give no warning and hold every section.
func TestManRenders(t *testing.T) {
	groff, err := exec.LookPath("groff")
	if err != nil {
		t.Fatalf("groff not found (%v): install groff-base (scripts/setup.sh does)", err)
	}
	for _, name := range []string{"ipfinder", "sdjoin"} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(groff, "-man", "-Tutf8", "-ww", filepath.Join(root, "docs/man", name+".1"))
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil || stderr.Len() > 0 {
				t.Fatalf("groff: %v\n%s", err, stderr.String())
			}
			text := stripOverstrike(out)
			for _, section := range []string{"NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "COMMANDS", "EXIT STATUS", "FILES", "EXAMPLES", "SEE ALSO", "--version", "--help"} {
				if !bytes.Contains(text, []byte(section)) {
					t.Errorf("%s(1) rendered has no %q", name, section)
				}
			}
		})
	}
}

// stripOverstrike removes groff's bold and underline (X\bX, _\bX).
func stripOverstrike(b []byte) []byte {
	var out []byte
	for i := 0; i < len(b); i++ {
		if i+1 < len(b) && b[i+1] == '\b' {
			i++
			continue
		}
		out = append(out, b[i])
	}
	return out
}
