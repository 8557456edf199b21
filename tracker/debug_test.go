package tracker

import (
	"testing"
	"time"
)

func TestDebugLeave(t *testing.T) {
	nodes := startCluster(t, 3, nil)
	nodes[2].Track("http", "web", nil)
	seenEverywhere(t, nodes, "http", []string{"node2@127.0.0.1/web"}, 3*time.Second)
	nodes[2].Leave(time.Second)
	seenEverywhere(t, nodes[:2], "http", nil, time.Second)
	for _, n := range nodes[:2] {
		n.mu.Lock()
		t.Logf("%s rec=%+v member=%+v tomb=%+v", n.name, n.v.nodes["node2@127.0.0.1"], n.v.members["node2@127.0.0.1"], n.v.tombs)
		n.mu.Unlock()
	}
}
