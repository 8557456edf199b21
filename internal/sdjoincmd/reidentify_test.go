package sdjoincmd

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// startInternalAgent runs an agent built directly (not through App), so
// the test can call its methods.
func startInternalAgent(t *testing.T, name string, port int, hostfile string) (*agent, *syncBuffer, string) {
	t.Helper()
	opt := &agentOptions{
		name:      name,
		bind:      netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)),
		tracks:    []trackSpec{{service: "test", meta: map[string]string{"load": "1"}}},
		hostfiles: []string{hostfile},
		socket:    filepath.Join(t.TempDir(), name+".sock"),
		retry:     150 * time.Millisecond,
		poll:      50 * time.Millisecond,
	}
	var stdout, stderr syncBuffer
	a := newAgent(opt, &stdout, &stderr)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent %s: %v", name, err)
		}
	})
	waitFor(t, 5*time.Second, name+" control socket", func() bool { return answering(opt.socket) })
	return a, &stdout, opt.socket
}

func TestReidentify(t *testing.T) {
	t.Parallel()
	p1, p2 := freePort(t), freePort(t)
	hosts := hostfileOf(t, p1, p2)
	a1, out1, sock1 := startInternalAgent(t, "node1", p1, hosts)
	n1 := &testAgent{name: "node1", sock: sock1}
	n2 := startAgent(t, "node2", p2, hosts, "--track", "test")
	oldName, newName := "node1@127.0.0.1", "node1@127.0.0.2"
	waitFor(t, 5*time.Second, "node2 seeing node1", func() bool {
		return slices.Equal(nodes(n2.list(t, "test")), []string{oldName, n2.node()})
	})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var watch syncBuffer
	watchDone := make(chan int, 1)
	go func() {
		watchDone <- runApp(ctx, &watch, &syncBuffer{}, []string{"sdjoin", "watch", "test", "--socket", n2.sock})
	}()
	waitFor(t, 5*time.Second, "the watch of node2 starting", func() bool { return strings.Count(watch.String(), "\n") >= 2 })

	before := len(out1.String()) // node1's output before its rename
	if err := a1.reidentify(netip.MustParseAddr("127.0.0.2")); err != nil {
		t.Fatalf("reidentify: %v", err)
	}
	rename := fmt.Sprintf("rename %s -> %s", oldName, newName)
	wantAround := []string{"leave test " + oldName, rename, fmt.Sprintf("join test %s 127.0.0.2:%d {\"load\":\"1\"}", newName, p1)}
	// The rename and the join come in one batch, but the client may
	// have printed only the first.
	waitFor(t, 5*time.Second, "node2's watch showing the rename and join", func() bool {
		return hasLine(watch.String(), rename) && hasLine(watch.String(), wantAround[2])
	})
	lines := watch.lines()
	i := slices.Index(lines, rename)
	if i < 1 || i+1 >= len(lines) || !slices.Equal(lines[i-1:i+2], wantAround) {
		t.Errorf("watch output around the rename:\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(wantAround, "\n"))
	}
	for _, n := range []*testAgent{n1, n2} {
		waitFor(t, 5*time.Second, n.name+" listing the new name", func() bool {
			return slices.Equal(nodes(n.list(t, "test")), []string{newName, n2.node()})
		})
	}
	got := n2.list(t, "test")[0]
	if got.Meta["load"] != "1" || got.PrevNode != oldName || got.Addr.Addr() != netip.MustParseAddr("127.0.0.2") {
		t.Errorf("node1's entry on node2 after the rename = %+v", got)
	}
	for _, want := range []string{"leave test " + oldName, fmt.Sprintf("join test %s 127.0.0.2:%d {\"load\":\"1\"}", newName, p1)} {
		if !hasLine(out1.String(), want) {
			t.Errorf("node1's output lacks %q:\n%s", want, out1)
		}
	}
	if strings.Contains(out1.String()[before:], "leave test "+n2.node()) {
		t.Errorf("node1 reported node2 leaving across its own rename:\n%s", out1)
	}

	// A rename to an address this machine does not have fails and leaves
	// the agent running under its current name.
	if err := a1.reidentify(netip.MustParseAddr("192.0.2.1")); err == nil {
		t.Fatal("reidentify to 192.0.2.1 succeeded")
	}
	waitFor(t, 5*time.Second, "node2 seeing node1 back after the failed rename", func() bool {
		return slices.Equal(nodes(n2.list(t, "test")), []string{newName, n2.node()})
	})
	cancel()
	if code := <-watchDone; code != 0 {
		t.Errorf("watch exit %d", code)
	}
}
