package sdjoincmd

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// sdjoinBin is the sdjoin binary TestMain built, or buildErr why not.
var (
	sdjoinBin string
	buildErr  error
	noGoTool  bool
)

// TestMain builds cmd/sdjoin once for the tests that run the real binary
// (see buildBinary). SDJOIN_TEST_BIN=PATH runs them against another
// build instead, for example to measure the figures before a fix.
func TestMain(m *testing.M) {
	if bin := os.Getenv("SDJOIN_TEST_BIN"); bin != "" {
		sdjoinBin = bin
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "sdjoin-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sdjoinBin, buildErr = build(dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func build(dir string) (string, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		noGoTool = true
		return "", fmt.Errorf("go tool not found (%w): cannot build the sdjoin binary", err)
	}
	bin := filepath.Join(dir, "sdjoin")
	out, err := exec.Command(goTool, "build", "-o", bin, "github.com/ipfinder-go/ipfinder/cmd/sdjoin").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
}

// buildBinary returns the sdjoin binary built by TestMain. Without the go
// tool the test is skipped (it fails under CI=true).
func buildBinary(t *testing.T) string {
	t.Helper()
	if buildErr != nil {
		if noGoTool && os.Getenv("CI") != "true" {
			t.Skip(buildErr)
		}
		t.Fatal(buildErr)
	}
	return sdjoinBin
}
