package ipfindercmd

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipfinder-go/ipfinder/hostfile"
	"github.com/ipfinder-go/ipfinder/internal/cliutil"
)

// TestOutputStateFailureSaysOutputWasWritten checks the order of -o and
// --keep: the output is written first; when its state cannot be, the exit
// is 1 and the error says that the output was written.
func TestOutputStateFailureSaysOutputWasWritten(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "hosts")
	if err := os.Mkdir(statePath(out), 0o755); err != nil { // no file can replace it
		t.Fatal(err)
	}
	o := &options{output: out, format: hostfile.Hosts, keep: time.Hour, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	err := output(nil, o, []hostfile.Host{{Addr: addr("192.0.2.10"), MAC: macA}})
	if cliutil.Code(err) != 1 || !strings.Contains(err.Error(), out+" is written, but its --keep state is not") {
		t.Errorf("err %v, want exit 1 saying the output is written", err)
	}
	if got, err := os.ReadFile(out); err != nil || !strings.Contains(string(got), "192.0.2.10\thost-192-0-2-10\n") {
		t.Errorf("output holds %q (%v), want the host", got, err)
	}
}

func TestKeepStateWarningIsOneLine(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "hosts")
	bad := "[" + strings.Repeat(`{"ip":"x"},`, 3) + `{"ip":"192.0.2.11","last_seen":"2026-11-25T11:00:00Z"}]`
	if err := os.WriteFile(statePath(out), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	o := &options{output: out, keep: 24 * time.Hour, log: slog.New(cliutil.NewLogHandler(&stderr, "ipfinder", slog.LevelWarn))}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	hosts, _ := keepRecent(o, nil, now)
	want := "ipfinder: warning: ignoring what cannot be read of the --keep state " + statePath(out) +
		` (delete it to silence this): hostfile ` + statePath(out) + ` line 1: bad address "x" (and 2 more)` + "\n"
	if stderr.String() != want {
		t.Errorf("stderr:\n%q\nwant:\n%q", stderr.String(), want)
	}
	if len(hosts) != 1 || hosts[0].Addr != addr("192.0.2.11") {
		t.Errorf("kept %+v, want the good host", hosts)
	}
}

// TestSummaryCountsUnlistedLines checks that a lenient parse's summary
// counts every bad line, also those past the parser's list.
func TestSummaryCountsUnlistedLines(t *testing.T) {
	in := "[" + strings.Repeat(`{"ip":"x"},`, 150) + `{"ip":"192.0.2.1"}]`
	_, err := hostfile.Parse(strings.NewReader(in), "f", &hostfile.ParseOptions{Format: hostfile.JSON, Lenient: true})
	if err == nil {
		t.Fatal("parse of 150 bad lines gave no error")
	}
	if got := summary(err); !strings.HasSuffix(got, "(and 149 more)") {
		t.Errorf("summary %q, want it to end in (and 149 more)", got)
	}
}
