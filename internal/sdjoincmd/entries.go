package sdjoincmd

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/ipfinder-go/ipfinder/internal/check"
	"github.com/ipfinder-go/ipfinder/tracker"
)

// entryID identifies one entry this node tracks: its service and key.
// The agent's own entries (--track, the control socket's track) have key
// trackKey; a control-socket session's have the session's key.
type entryID struct{ service, key string }

// errOffline is returned by queries while the agent has no tracker.
var errOffline = errors.New("offline: no address")

// errNotTracked is returned by untrack of an entry not tracked.
var errNotTracked = errors.New("not tracked")

func sortedIDs[V any](m map[entryID]V) []entryID {
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

// gossipStats returns the gossip counters of every tracker this agent
// ran, so they only grow across renames and restarts with a new key.
func (c *core) gossipStats() tracker.Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.t == nil {
		return c.retired
	}
	return addStats(c.retired, c.t.Stats())
}

func addStats(a, b tracker.Stats) tracker.Stats {
	return tracker.Stats{
		SentBytes:        a.SentBytes + b.SentBytes,
		ReceivedBytes:    a.ReceivedBytes + b.ReceivedBytes,
		SentMessages:     a.SentMessages + b.SentMessages,
		ReceivedMessages: a.ReceivedMessages + b.ReceivedMessages,
		PushPulls:        a.PushPulls + b.PushPulls,
		DroppedMessages:  a.DroppedMessages + b.DroppedMessages,
	}
}

// localCount returns how many entries this node tracks, withdrawn ones
// included.
func (c *core) localCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
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

// localEntry is one entry this node tracks. It is up (advertised: in
// the tracker, when there is one) from the start if it has no checks,
// else while its checks pass (check.State.Advertised).
type localEntry struct {
	spec trackSpec
	up   bool
}

// checkID is the check.Runner ID of an entry (keys hold no space).
func checkID(id entryID) string { return id.key + " " + id.service }

func parseCheckID(s string) entryID {
	key, service, _ := strings.Cut(s, " ")
	return entryID{service, key}
}

// track tracks an entry per ts, or replaces it: its meta, and its checks
// if they changed (the entry then starts over, pending). Offline, it is
// kept for the next tracker.
func (c *core) track(id entryID, ts trackSpec) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.addLocked(id, ts)
}

// addLocked is track with c.mu held.
func (c *core) addLocked(id entryID, ts trackSpec) error {
	ts.meta = maps.Clone(ts.meta)
	old, ok := c.entries[id]
	if ok && sameChecks(old.spec, ts) {
		if old.up {
			if err := c.advertiseLocked(id, ts.meta); err != nil {
				return err
			}
		}
		old.spec = ts
		return nil
	}
	up := len(ts.checks) == 0
	var err error
	switch {
	case up:
		err = c.advertiseLocked(id, ts.meta)
	case ok && old.up:
		err = c.withdrawLocked(id)
	}
	if err != nil {
		return err
	}
	if ok && len(old.spec.checks) > 0 {
		c.checks.Remove(checkID(id))
	}
	c.entries[id] = &localEntry{spec: ts, up: up}
	if !up {
		if err := c.checks.Add(checkID(id), ts.checkEntry()); err != nil {
			delete(c.entries, id)
			return errStopped // the runner is closed
		}
	}
	return nil
}

// advertiseLocked tracks an entry in the tracker, or updates its meta.
func (c *core) advertiseLocked(id entryID, meta map[string]string) error {
	if c.t == nil {
		return nil
	}
	_, err := c.t.Track(id.service, id.key, meta)
	if errors.Is(err, tracker.ErrAlreadyTracked) {
		_, err = c.t.Update(id.service, id.key, meta)
	}
	return err
}

// withdrawLocked untracks an entry from the tracker.
func (c *core) withdrawLocked(id entryID) error {
	if c.t == nil {
		return nil
	}
	return c.t.Untrack(id.service, id.key)
}

// untrack stops tracking an entry: errNotTracked if it was not.
func (c *core) untrack(id entryID) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.removeLocked(id)
}

func (c *core) removeLocked(id entryID) error {
	e, ok := c.entries[id]
	if !ok {
		return errNotTracked
	}
	if e.up {
		if err := c.withdrawLocked(id); err != nil {
			return err
		}
	}
	delete(c.entries, id)
	if len(e.spec.checks) > 0 {
		c.checks.Remove(checkID(id))
	}
	return nil
}

// errBusy refuses a session over maxSessions.
var errBusy = fmt.Errorf("agent busy: %d sessions open; retry later", maxSessions)

// openSession tracks the entries of a new session under a key of its
// own, all or none, and returns the key.
func (c *core) openSession(specs []trackSpec) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sessions >= maxSessions {
		return "", errBusy
	}
	c.lastSession++
	key := "session-" + strconv.Itoa(c.lastSession)
	for i, ts := range specs {
		if err := c.addLocked(entryID{ts.service, key}, ts); err != nil {
			for _, done := range specs[:i] {
				c.removeLocked(entryID{done.service, key})
			}
			return "", fmt.Errorf("track %s: %w", ts.service, err)
		}
	}
	c.sessions++
	return key, nil
}

// closeSession untracks the entries of the session key.
func (c *core) closeSession(key string, specs []trackSpec) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ts := range specs {
		if err := c.removeLocked(entryID{ts.service, key}); err != nil && !errors.Is(err, errNotTracked) {
			c.log.Debug("close session", "key", key, "service", ts.service, "err", err)
		}
	}
	c.sessions--
}

// applyChecks advertises the entries whose checks now pass and withdraws
// those now critical, telling the operator. It runs on the loop.
func (c *core) applyChecks() {
	for _, st := range c.checks.Changes() {
		id := parseCheckID(st.ID)
		want := st.State.Advertised()
		c.mu.Lock()
		e, ok := c.entries[id]
		changed := ok && e.up != want
		var err error
		if changed {
			if want {
				err = c.advertiseLocked(id, e.spec.meta)
			} else {
				err = c.withdrawLocked(id)
			}
			if err == nil {
				e.up = want
			}
		}
		c.mu.Unlock()
		switch {
		case err != nil:
			c.warn("warning: %s (key %s): %v", id.service, id.key, err)
		case changed && want:
			c.warn("%s (key %s): checks %s: advertised", id.service, id.key, st.State)
		case changed:
			c.warn("%s (key %s): checks %s: withdrawn (%s)", id.service, id.key, st.State, failing(st))
		}
	}
}

// failing describes the first failing check of st: its spec (redacted)
// and last output.
func failing(st check.Status) string {
	for _, cs := range st.Checks {
		if cs.Failures > 0 {
			return redactSpec(cs.Spec) + ": " + cs.Output
		}
	}
	return "no result"
}

// localEntries returns this node's entries of service ("" for all),
// withdrawn ones included, with their check states, for list --local.
func (c *core) localEntries(service string) []record {
	c.mu.Lock()
	defer c.mu.Unlock()
	node := ""
	if c.t != nil {
		node = c.t.LocalNode()
	}
	var out []record
	for _, id := range sortedIDs(c.entries) {
		if service != "" && id.service != service {
			continue
		}
		r := record{Service: id.service, Key: id.key, Node: node,
			Meta: c.entries[id].spec.meta, State: check.Passing.String()}
		if r.Meta == nil {
			r.Meta = map[string]string{}
		}
		if st, ok := c.checks.Status(checkID(id)); ok {
			r.State = st.State.String()
			for _, cs := range st.Checks {
				r.Checks = append(r.Checks, checkRecord{Check: redactSpec(cs.Spec), State: cs.State.String(), Output: cs.Output, Time: cs.Time})
			}
		}
		out = append(out, r)
	}
	return out
}
