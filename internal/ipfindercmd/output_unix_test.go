//go:build unix

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
	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// TestKeepRefusesPlantedState plays another user who plants the --keep
// state of a root run writing into /tmp, to inject hosts into its output
// or make it read a file it should not: the run stops before writing
// anything, naming the state.
func TestKeepRefusesPlantedState(t *testing.T) {
	if os.Geteuid() != 0 {
		lab.SkipOrFail(t, "planting a file owned by another user needs root")
	}
	injected := `[{"ip":"192.0.2.99","last_seen":"` + time.Now().UTC().Format(time.RFC3339) + `"}]`
	for _, tc := range []struct {
		name  string
		plant func(t *testing.T, state, elsewhere string)
	}{
		{"file", func(t *testing.T, state, _ string) {
			if err := os.WriteFile(state, []byte(injected), 0o666); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(state, 12345, 12345); err != nil {
				t.Fatal(err)
			}
		}},
		{"symlink", func(t *testing.T, state, elsewhere string) {
			if err := os.WriteFile(elsewhere, []byte(injected), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(elsewhere, state); err != nil {
				t.Fatal(err)
			}
			if err := os.Lchown(state, 12345, 12345); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			top := t.TempDir()
			out := filepath.Join(lab.SharedDir(t, top), "hosts")
			tc.plant(t, statePath(out), filepath.Join(top, "elsewhere"))
			o := &options{output: out, format: hostfile.Hosts, keep: 24 * time.Hour, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			err := output(nil, o, []hostfile.Host{{Addr: addr("192.0.2.10"), MAC: macA}})
			if cliutil.Code(err) != 1 || !strings.Contains(err.Error(), statePath(out)) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err %v, want exit 1 and one line naming %s", err, statePath(out))
			}
			if got, err := os.ReadFile(out); err == nil {
				t.Errorf("output written despite the planted state:\n%s", got)
			}
		})
	}
}
