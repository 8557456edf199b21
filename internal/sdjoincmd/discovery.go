package sdjoincmd

import (
	"maps"
	"slices"

	"github.com/ipfinder-go/ipfinder/internal/discover"
)

// maxDiscovered bounds the peers kept from discovery; more are ignored
// until some say goodbye.
const maxDiscovered = 256

// startDiscovery announces the current tracker over mDNS on the interface
// of its advertised address and browses for peers there (package
// discover), unless --no-discover; it publishes this node's services
// there too, unless --no-publish (publish.go). An address discovery cannot use
// (loopback, no multicast) is a warning, not an error. It runs on the
// loop (or before it starts).
func (c *core) startDiscovery() {
	if !c.opt.discover {
		return
	}
	c.mu.Lock()
	name, adv := c.t.LocalNode(), c.adv
	c.discovered = map[string]string{}
	c.mu.Unlock()
	ifi, err := discover.InterfaceOf(adv.Addr())
	if err == nil {
		c.disc, err = discover.Start(ifi, &discover.Config{
			Instance: name, Addr: adv, Cluster: c.opt.label, Found: c.found, Logger: c.log,
		})
	}
	if err != nil {
		c.warn("warning: peer discovery off: %v (--no-discover silences this)", err)
		return
	}
	if c.pub != nil {
		c.pub.attach(c.disc)
	}
}

// stopDiscovery says goodbye over mDNS (for the published instances
// too) and forgets the discovered peers.
// It runs on the loop, or after it stopped.
func (c *core) stopDiscovery() {
	if c.pub != nil {
		c.pub.attach(nil)
	}
	if c.disc != nil {
		if err := c.disc.Close(); err != nil {
			c.log.Debug("discovery", "err", err)
		}
		c.disc = nil
	}
	c.mu.Lock()
	c.discovered = nil
	c.mu.Unlock()
}

// found records a peer discovery heard (or forgets one that said
// goodbye) and wakes the join loop. It runs on the discovery goroutine.
func (c *core) found(p discover.Peer) {
	c.mu.Lock()
	switch {
	case c.discovered == nil: // stopped meanwhile
	case p.Gone:
		delete(c.discovered, p.Instance)
	case c.selfLocked()(p.Addr):
	case len(c.discovered) >= maxDiscovered && c.discovered[p.Instance] == "":
		c.log.Debug("discovery: too many peers", "ignored", p.Instance)
	default:
		c.discovered[p.Instance] = p.Addr.String()
		c.mu.Unlock()
		c.log.Debug("discovered", "node", p.Instance, "addr", p.Addr)
		c.kickJoin()
		return
	}
	c.mu.Unlock()
}

// joinListLocked returns the peers to join: the hostfile's, then the
// discovered ones not among them. c.mu is held.
func (c *core) joinListLocked() []string {
	if len(c.discovered) == 0 {
		return c.peers
	}
	out := slices.Clone(c.peers)
	for _, p := range slices.Sorted(maps.Values(c.discovered)) {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}
