package sdjoincmd

import (
	"context"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ipfinder-go/ipfinder/internal/cliutil"
	"github.com/ipfinder-go/ipfinder/rename"
)

// TestRenameOption checks when the agent follows its address: only when
// the user fixed neither the advertised nor the bind address.
func TestRenameOption(t *testing.T) {
	t.Parallel()
	hosts := filepath.Join(t.TempDir(), "hosts")
	for _, tc := range []struct {
		name string
		args []string
		want bool
	}{
		{name: "defaults", want: true},
		{name: "unspecified_bind", args: []string{"--bind", "0.0.0.0:7000"}, want: true},
		{name: "no_rename", args: []string{"--no-rename"}, want: false},
		{name: "advertise", args: []string{"--advertise", "192.0.2.10"}, want: false},
		{name: "specific_bind", args: []string{"--bind", "192.0.2.10:7946"}, want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tl := &trackList{}
			var opt *agentOptions
			app := &cli.App{Flags: agentFlags(tl), Action: func(c *cli.Context) error {
				var err error
				opt, err = parseAgentOptions(c, tl)
				return err
			}}
			cliMu.Lock()
			err := app.Run(append([]string{"sdjoin", "--hostfile", hosts, "--socket", "s"}, tc.args...))
			cliMu.Unlock()
			if err != nil {
				t.Fatal(err)
			}
			if opt.rename != tc.want {
				t.Errorf("rename = %v, want %v", opt.rename, tc.want)
			}
		})
	}
}

// TestLoseAndReturn drops the agent's address (as a lost one) and gives
// it back: offline it leaves, answers nothing and keeps tracks for later;
// back, it joins again under the same name.
func TestLoseAndReturn(t *testing.T) {
	t.Parallel()
	p1, p2 := freePort(t), freePort(t)
	hosts := hostfileOf(t, p1, p2)
	a1, _, sock1 := startInternalAgent(t, "node1", p1, hosts)
	n1 := &testAgent{name: "node1", sock: sock1}
	n2 := startAgent(t, "node2", p2, hosts, "--track", "test")
	both := []string{"node1@127.0.0.1", n2.node()}
	waitFor(t, 5*time.Second, "node2 seeing node1", func() bool { return slices.Equal(nodes(n2.list(t, "test")), both) })

	lo := netip.MustParseAddr("127.0.0.1")
	if next := a1.follow(rename.Change{Old: lo}); next.IsValid() {
		t.Fatalf("follow(lost) = %v, want no retry", next)
	}
	waitFor(t, 5*time.Second, "node2 dropping node1", func() bool { return slices.Equal(nodes(n2.list(t, "test")), []string{n2.node()}) })
	if got := n1.list(t, "test"); len(got) != 0 {
		t.Errorf("offline list = %v, want nothing", got)
	}
	if code, _, _ := n1.run("pick", "test"); code != cliutil.ExitNotFound {
		t.Errorf("offline pick: exit %d, want %d", code, cliutil.ExitNotFound)
	}
	if code, _, errs := n1.run("track", "db", "--meta", "port=5432"); code != 0 {
		t.Errorf("offline track: exit %d: %s", code, errs)
	}

	if next := a1.follow(rename.Change{New: lo}); next.IsValid() {
		t.Fatalf("follow(back) = %v, want no retry", next)
	}
	waitFor(t, 5*time.Second, "node2 seeing node1 back", func() bool { return slices.Equal(nodes(n2.list(t, "test")), both) })
	waitFor(t, 5*time.Second, "node2 seeing node1's db", func() bool {
		got := n2.list(t, "db")
		return len(got) == 1 && got[0].Node == both[0] && got[0].Meta["port"] == "5432" && got[0].PrevNode == ""
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if code, out, _ := runCLI(ctx, "members", "--socket", sock1); code != 0 || out == "" {
		t.Errorf("members after return: exit %d %q", code, out)
	}
}
