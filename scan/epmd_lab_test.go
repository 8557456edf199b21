package scan

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/lab"
)

func TestEPMDNamesLab(t *testing.T) {
	if _, err := exec.LookPath("erl"); err != nil {
		lab.SkipOrFail(t, "erl not installed (Debian: apt install erlang-base)")
	}
	l := lab.New(t, lab.Config{Hosts: 3})
	client, node, bare := l.Hosts[0], l.Hosts[1], l.Hosts[2]
	erl := node.Command(context.Background(), "erl", "-name", "app@"+node.Addr.String(), "-setcookie", "x", "-noshell")
	if err := node.Start(erl); err != nil {
		t.Fatal(err)
	}

	// names asks from inside the client's namespace.
	names := func(ctx context.Context, h *lab.Host) (got []string, err error) {
		derr := client.Do(func() error {
			got, err = EPMDNames(ctx, h.Addr)
			return nil
		})
		if derr != nil {
			t.Fatal(derr)
		}
		return got, err
	}

	lab.Eventually(t, 20*time.Second, "EPMDNames(node) = [app]", func() error { // erl boots
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		got, err := names(ctx, node)
		if err == nil && !slices.Equal(got, []string{"app"}) {
			err = fmt.Errorf("EPMDNames(%v) = %q", node.Addr, got)
		}
		return err
	})

	start := time.Now()
	got, err := names(t.Context(), bare)
	if err != nil || got != nil {
		t.Errorf("EPMDNames(%v) without epmd = %q, %v; want no names, no error", bare.Addr, got, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("a host without epmd took %v to answer", d)
	}
}
