package tracker

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
)

// ErrNoProvider is returned by Pick when no entry of the service is visible.
var ErrNoProvider = errors.New("tracker: no provider")

type policyKind int

const (
	pickRandom policyKind = iota
	pickRoundRobin
	pickLeast
	pickPreferLocal
)

// Policy chooses one entry among a service's entries (see Pick).
type Policy struct {
	kind  policyKind
	field string
}

// Policies for Pick.
var (
	// Random picks uniformly at random.
	Random = Policy{kind: pickRandom}
	// RoundRobin cycles through the entries (sorted by node and key),
	// with one counter per service in this Tracker.
	RoundRobin = Policy{kind: pickRoundRobin}
	// PreferLocal picks a random entry of this node if there is one,
	// else a random entry.
	PreferLocal = Policy{kind: pickPreferLocal}
)

// Least picks the entry whose meta field (a number, such as "load") is
// smallest; entries without a parsable value come last; ties are broken
// at random.
func Least(field string) Policy { return Policy{kind: pickLeast, field: field} }

// String names the policy.
func (p Policy) String() string {
	switch p.kind {
	case pickRoundRobin:
		return "round-robin"
	case pickLeast:
		return fmt.Sprintf("least(%s)", p.field)
	case pickPreferLocal:
		return "prefer-local"
	default:
		return "random"
	}
}

// Pick chooses one visible entry of service by policy p, for caller-side
// load balancing. It returns ErrNoProvider if there is none.
func (t *Tracker) Pick(service string, p Policy) (Presence, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	list := t.v.listShared(service) // picked from under t.mu: only the pick's meta is cloned
	var n uint64
	if p.kind == pickRoundRobin {
		n = t.rr[service]
		t.rr[service] = n + 1
	}
	if len(list) == 0 {
		return Presence{}, fmt.Errorf("%w for service %q", ErrNoProvider, service)
	}
	got := pick(list, p, n)
	got.Meta = maps.Clone(got.Meta)
	return got, nil
}

// pick applies p to a non-empty list; n is the round-robin counter.
func pick(list []Presence, p Policy, n uint64) Presence {
	switch p.kind {
	case pickRoundRobin:
		return list[n%uint64(len(list))]
	case pickPreferLocal:
		var local []Presence
		for _, e := range list {
			if e.Local {
				local = append(local, e)
			}
		}
		if len(local) > 0 {
			return local[rand.IntN(len(local))]
		}
	case pickLeast:
		best, bestV := []Presence(nil), math.Inf(1)
		for _, e := range list {
			v, err := strconv.ParseFloat(e.Meta[p.field], 64)
			if err != nil || math.IsNaN(v) {
				v = math.Inf(1)
			}
			switch {
			case v < bestV:
				best, bestV = []Presence{e}, v
			case v == bestV:
				best = append(best, e)
			}
		}
		if len(best) > 0 {
			return best[rand.IntN(len(best))]
		}
	}
	return list[rand.IntN(len(list))]
}

func sortMembers(ms []Member) {
	slices.SortFunc(ms, func(a, b Member) int { return cmp.Compare(a.Name, b.Name) })
}
