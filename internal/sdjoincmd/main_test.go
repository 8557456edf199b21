package sdjoincmd

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
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
	// Agents run in this process, and the binaries it starts, keep the
	// test's GOMAXPROCS (see oneProc, TestOneProc).
	os.Setenv("GOMAXPROCS", strconv.Itoa(runtime.GOMAXPROCS(0)))
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

// TestOneProc: an agent without front-ends runs on one P, unless
// GOMAXPROCS is set; --http and --dns keep the default.
func TestOneProc(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, tc := range []struct {
		name string
		env  string
		opt  agentOptions
		want int
	}{
		{"plain agent", "", agentOptions{}, 1},
		{"GOMAXPROCS set", "2", agentOptions{}, 2},
		{"http", "", agentOptions{http: netip.MustParseAddrPort("127.0.0.1:8500")}, 2},
		{"dns", "", agentOptions{dns: dnsOptions{addr: netip.MustParseAddrPort("127.0.0.1:8600")}}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GOMAXPROCS", tc.env)
			runtime.GOMAXPROCS(2)
			oneProc(&tc.opt)
			if got := runtime.GOMAXPROCS(0); got != tc.want {
				t.Errorf("GOMAXPROCS %d, want %d", got, tc.want)
			}
		})
	}
}
