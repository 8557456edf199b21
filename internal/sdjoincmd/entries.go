package sdjoincmd

import (
	"cmp"
	"errors"
	"maps"
	"slices"

	"github.com/ipfinder-go/ipfinder/tracker"
)

// entryID identifies one entry this node tracks: its service and key.
// The agent's own entries (--track, the control socket's track) have key
// trackKey; an entry owned by something else (a control-socket session, a
// health-checked process) would have a key of its own, so removing all of
// an owner's entries is removing all of one key's.
type entryID struct{ service, key string }

// errOffline is returned by queries while the agent has no tracker.
var errOffline = errors.New("offline: no address")

// errNotTracked is returned by untrack of an entry not tracked.
var errNotTracked = errors.New("not tracked")

func sortedIDs(m map[entryID]map[string]string) []entryID {
	return slices.SortedFunc(maps.Keys(m), func(a, b entryID) int {
		return cmp.Or(cmp.Compare(a.service, b.service), cmp.Compare(a.key, b.key))
	})
}

// list returns the entries of service ("" for every service); offline,
// none.
func (c *core) list(service string) []tracker.Presence {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.t == nil {
		return nil
	}
	svcs := []string{service}
	if service == "" {
		svcs = c.t.Services()
	}
	var out []tracker.Presence
	for _, svc := range svcs {
		out = append(out, c.t.List(svc)...)
	}
	return out
}

// members returns the live members, this node included; offline, none.
func (c *core) members() []tracker.Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.t == nil {
		return nil
	}
	return c.t.Members()
}

// pick picks an entry of service by policy: tracker.ErrNoProvider when
// none, errOffline without a tracker.
func (c *core) pick(service string, pol tracker.Policy) (tracker.Presence, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.t == nil {
		return tracker.Presence{}, errOffline
	}
	return c.t.Pick(service, pol)
}

// track tracks service under key with meta, or replaces its meta. Offline,
// it is kept for the next tracker.
func (c *core) track(service, key string, meta map[string]string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.t != nil {
		_, err := c.t.Track(service, key, meta)
		if errors.Is(err, tracker.ErrAlreadyTracked) {
			_, err = c.t.Update(service, key, meta)
		}
		if err != nil {
			return err
		}
	}
	c.tracked[entryID{service, key}] = maps.Clone(meta)
	return nil
}

// untrack stops tracking service under key: errNotTracked if it was not.
func (c *core) untrack(service, key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := entryID{service, key}
	if _, ok := c.tracked[id]; !ok {
		return errNotTracked
	}
	if c.t != nil {
		if err := c.t.Untrack(service, key); err != nil {
			return err
		}
	}
	delete(c.tracked, id)
	return nil
}
