//go:build linux

package sdjoincmd

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// dialMany opens n connections to the control socket, closed when the
// test ends or by the returned function.
func dialMany(t *testing.T, sock string, n int) (closeAll func()) {
	t.Helper()
	var cs []net.Conn
	closeAll = func() {
		for _, c := range cs {
			c.Close()
		}
		cs = nil
	}
	t.Cleanup(closeAll)
	for range n {
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatalf("connection %d: %v", len(cs)+1, err)
		}
		cs = append(cs, c)
	}
	return closeAll
}

// openFiles returns how many descriptors process pid has open.
func openFiles(t *testing.T, pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestBinaryAcceptSurvivesEMFILE: a connection flood that exhausts the
// agent's descriptors (limit 40) does not stop its control socket: once
// the flood is gone, requests are answered again.
func TestBinaryAcceptSurvivesEMFILE(t *testing.T) {
	t.Parallel()
	const limit = 40
	a := startBinCmd(t, nil, fmt.Sprintf("ulimit -n %d", limit), "--hostfile", filepath.Join(t.TempDir(), "none"), "--track", "svc")
	closeAll := dialMany(t, a.sock, 3*limit)
	waitFor(t, 5*time.Second, "the agent running out of descriptors", func() bool {
		return openFiles(t, a.cmd.Process.Pid) >= limit
	})
	closeAll()
	var rep string
	waitFor(t, 5*time.Second, "the control socket answering again", func() bool {
		var err error
		rep, err = rawRequest(a.sock, `{"op":"list","service":"svc"}`, time.Second)
		return err == nil
	})
	if !strings.Contains(rep, `"service":"svc"`) {
		t.Errorf("list after the flood = %s", rep)
	}
}

// TestControlBusy: beyond maxConns connections at once, a new one is
// told the agent is busy; once they close, requests are answered.
func TestControlBusy(t *testing.T) {
	t.Parallel()
	a := startAgent(t, "n1", freePort(t), filepath.Join(t.TempDir(), "none"), "--track", "svc")
	closeAll := dialMany(t, a.sock, maxConns)
	rep, err := rawRequest(a.sock, `{"op":"list"}`, 5*time.Second)
	if err != nil || !strings.Contains(rep, "agent busy") {
		t.Errorf("connection %d: %q, %v; want an \"agent busy\" error", maxConns+1, rep, err)
	}
	closeAll()
	waitFor(t, 5*time.Second, "the agent answering once the connections closed", func() bool {
		rep, err := rawRequest(a.sock, `{"op":"list"}`, time.Second)
		return err == nil && strings.Contains(rep, `"service":"svc"`)
	})
}
