package tracker

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// TestModel runs random tracks, updates, untracks, crashes, restarts,
// partitions and heals over a real loopback cluster, then checks that
// after healing every live node shows exactly the entries of the live
// nodes: no ghosts, nothing lost. TRACKER_MODEL_SEED replays a seed.
func TestModel(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("TRACKER_MODEL_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (TRACKER_MODEL_SEED=%d replays)", seed, seed)
	rnd := rand.New(rand.NewPCG(seed, seed))

	const size, ops = 5, 60
	nodes := startCluster(t, size, nil)
	ports := make([]int, size)
	for i, n := range nodes {
		ports[i] = n.port
	}
	alive := make([]bool, size)
	truth := make([]map[string]string, size) // per node: key -> meta version
	for i := range truth {
		alive[i], truth[i] = true, map[string]string{}
	}
	live := func() []int {
		var out []int
		for i, a := range alive {
			if a {
				out = append(out, i)
			}
		}
		return out
	}
	heal := func() {
		for i, n := range nodes {
			if alive[i] {
				n.tr.unblockAll()
			}
		}
	}
	for op := range ops {
		l := live()
		i := l[rnd.IntN(len(l))]
		n := nodes[i]
		key := fmt.Sprintf("k%d", rnd.IntN(6))
		switch r := rnd.IntN(100); {
		case r < 55:
			ver := strconv.Itoa(op)
			meta := map[string]string{"v": ver}
			if _, ok := truth[i][key]; ok {
				if _, err := n.Update("svc", key, meta); err != nil {
					t.Fatalf("op %d update: %v", op, err)
				}
			} else if _, err := n.Track("svc", key, meta); err != nil {
				t.Fatalf("op %d track: %v", op, err)
			}
			truth[i][key] = ver
		case r < 72:
			if err := n.Untrack("svc", key); err != nil {
				t.Fatalf("op %d untrack: %v", op, err)
			}
			delete(truth[i], key)
		case r < 80 && len(l) > 2:
			n.Close()
			alive[i] = false
		case r < 88:
			for j, a := range alive {
				if a {
					continue
				}
				nodes[j] = startNode(t, fmt.Sprintf("node%d", j), ports[j], nil)
				alive[j], truth[j] = true, map[string]string{}
				if _, err := nodes[j].Join([]string{nodes[i].addr()}); err != nil {
					t.Logf("op %d: restart join: %v (partitioned?)", op, err)
				}
				break
			}
		case r < 94 && len(l) > 2:
			heal()
			cut := l[:1+rnd.IntN(len(l)-1)]
			for _, a := range l {
				for _, b := range l {
					if slices.Contains(cut, a) != slices.Contains(cut, b) {
						nodes[a].tr.block(nodes[b].addr())
					}
				}
			}
		default:
			heal()
		}
		// Pace the operations so gossip interleaves with them.
		time.Sleep(time.Duration(rnd.IntN(120)) * time.Millisecond)
	}
	heal()

	want := func() map[string]string {
		out := map[string]string{}
		for i, a := range alive {
			if a {
				for k, v := range truth[i] {
					out[fmt.Sprintf("node%d@127.0.0.1/%s", i, k)] = v
				}
			}
		}
		return out
	}()
	start, lastLog := time.Now(), time.Now()
	defer func() { t.Logf("converged %v after heal", time.Since(start)) }()
	lab.Eventually(t, 25*time.Second, "convergence after heal", func() error {
		for _, i := range live() {
			got := map[string]string{}
			for _, p := range nodes[i].List("svc") {
				got[p.Node+"/"+p.Key] = p.Meta["v"]
			}
			if !maps.Equal(got, want) {
				if os.Getenv("TRACKER_MODEL_DEBUG") != "" && time.Since(lastLog) > 2*time.Second {
					lastLog = time.Now()
					var miss, extra []string
					for k, v := range want {
						if got[k] != v {
							miss = append(miss, k+":"+v)
						}
					}
					for k, v := range got {
						if want[k] != v {
							extra = append(extra, k+":"+v)
						}
					}
					nodes[i].mu.Lock()
					var recs []string
					for nm, r := range nodes[i].v.nodes {
						m := nodes[i].v.members[nm]
						recs = append(recs, fmt.Sprintf("%s boot %d v%d member %+v", nm, r.Boot%1000, r.Version, m))
					}
					nodes[i].mu.Unlock()
					var owners []string
					for _, j := range live() {
						nodes[j].mu.Lock()
						r := nodes[j].v.nodes[nodes[j].name]
						owners = append(owners, fmt.Sprintf("node%d boot %d v%d", j, r.Boot%1000, r.Version))
						nodes[j].mu.Unlock()
					}
					t.Logf("%v: node%d missing %v extra %v\nrecs %v\nowners %v", time.Since(start), i, miss, extra, recs, owners)
				}
				return fmt.Errorf("node%d shows %v\nwant %v", i, got, want)
			}
		}
		return nil
	})
}
