package ipfindercmd_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/ipfinder-go/ipfinder/internal/cliutil"
	"github.com/ipfinder-go/ipfinder/internal/ipfindercmd"
)

// TestBadNameIsUsageError checks --name against hostfile.CheckNodeName;
// the flags are checked before any sweep, so nothing is sent.
func TestBadNameIsUsageError(t *testing.T) {
	for _, name := range []string{"", "a b", "a@b", "a#b", "a/b", "ü", strings.Repeat("n", 210)} {
		var stdout, stderr bytes.Buffer
		code := cliutil.Run(context.Background(), ipfindercmd.App(&stdout, &stderr), []string{"ipfinder", "-f", "erlang", "--name", name})
		if code != 2 || !strings.HasPrefix(stderr.String(), "ipfinder: bad --name ") || strings.Count(stderr.String(), "\n") != 1 {
			t.Errorf("--name %.20q: exit %d, stderr %q; want 2 and one line", name, code, stderr.String())
		}
	}
}

// TestBadDNSIsUsageError checks --dns; the flags are checked before any
// sweep, so nothing is sent.
func TestBadDNSIsUsageError(t *testing.T) {
	for _, args := range [][]string{
		{"--dns", "router.lan"},
		{"--dns", "192.0.2.1:0"},
		{"--dns", "192.0.2.1:99999"},
		{"--dns", "2001:db8::1:53:x"},
		{"--dns", "192.0.2.1", "--no-rdns"},
	} {
		var stdout, stderr bytes.Buffer
		code := cliutil.Run(context.Background(), ipfindercmd.App(&stdout, &stderr), append([]string{"ipfinder"}, args...))
		if code != 2 || !strings.HasPrefix(stderr.String(), "ipfinder: ") || !strings.Contains(stderr.String(), "--dns") || strings.Count(stderr.String(), "\n") != 1 {
			t.Errorf("%q: exit %d, stderr %q; want 2 and one line about --dns", args, code, stderr.String())
		}
	}
}

// TestBadRateIsUsageError checks --rate: 0 picks the rate by link type,
// a negative rate is refused before any sweep. The interface named does
// not exist, so nothing could be sent even if the check failed.
func TestBadRateIsUsageError(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := cliutil.Run(context.Background(), ipfindercmd.App(&stdout, &stderr), []string{"ipfinder", "-i", "ipfl-none", "--rate", "-5"})
	if code != 2 || !strings.HasPrefix(stderr.String(), "ipfinder: bad --rate -5") || strings.Count(stderr.String(), "\n") != 1 {
		t.Errorf("--rate -5: exit %d, stderr %q; want 2 and one line", code, stderr.String())
	}
}
