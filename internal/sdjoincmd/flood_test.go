//go:build linux

package sdjoincmd

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// dialMany opens n connections to the control socket, closed when the
// test ends or by closeAll (which closes what cs holds then).
func dialMany(t *testing.T, sock string, n int) (cs []net.Conn, closeAll func()) {
	t.Helper()
	cs = make([]net.Conn, n)
	closeAll = func() {
		for i, c := range cs {
			if c != nil {
				c.Close()
				cs[i] = nil
			}
		}
	}
	t.Cleanup(closeAll)
	for i := range cs {
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatalf("connection %d: %v", i+1, err)
		}
		cs[i] = c
	}
	return cs, closeAll
}

// holdMany opens n control connections that the agent serves: each
// waits for a request. A connection refused as busy, because the handler
// of an earlier one (startAgent's probe) had not ended yet, is dialed
// again: otherwise that handler's slot frees up later and the test's
// next connection is served.
func holdMany(t *testing.T, sock string, n int) (closeAll func()) {
	t.Helper()
	cs, closeAll := dialMany(t, sock, n)
	held := func(c net.Conn) bool { // no reply, no EOF: a handler waits for its request
		c.SetReadDeadline(time.Now().Add(time.Millisecond))
		_, err := c.Read(make([]byte, 1))
		c.SetReadDeadline(time.Time{})
		return errors.Is(err, os.ErrDeadlineExceeded)
	}
	for deadline := time.Now().Add(5 * time.Second); ; {
		time.Sleep(50 * time.Millisecond) // a refusal is answered at once
		var refused []int
		for i, c := range cs {
			if !held(c) {
				refused = append(refused, i)
			}
		}
		if len(refused) == 0 {
			return closeAll
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d control connections still refused after 5s", len(refused), n)
		}
		for _, i := range refused {
			cs[i].Close()
			c, err := net.Dial("unix", sock)
			if err != nil {
				t.Fatalf("connection %d: %v", i+1, err)
			}
			cs[i] = c
		}
	}
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
	_, closeAll := dialMany(t, a.sock, 3*limit)
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
	closeAll := holdMany(t, a.sock, maxConns)
	// The agent refuses at once, often before the client has written its
	// request: the client reports the agent's reason, not the write error.
	rep, err := client{path: a.sock}.call(request{Op: opList})
	if err == nil || !strings.Contains(err.Error(), "agent busy") {
		t.Errorf("connection %d: %+v, %v; want an \"agent busy\" error", maxConns+1, rep, err)
	}
	closeAll()
	waitFor(t, 5*time.Second, "the agent answering once the connections closed", func() bool {
		rep, err := rawRequest(a.sock, `{"op":"list"}`, time.Second)
		return err == nil && strings.Contains(rep, `"service":"svc"`)
	})
}
