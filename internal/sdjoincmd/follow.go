package sdjoincmd

import (
	"context"
	"log/slog"
	"net/netip"

	"github.com/ipfinder-go/ipfinder/rename"
)

// watchAddress starts following this machine's IPv4 identity address when
// the options ask for it, in the network namespace the agent runs in. It
// returns nil when not following (then the address stays as chosen at
// start); a watcher that cannot start is a warning, not an error.
func (c *core) watchAddress(ctx context.Context) *rename.Watcher {
	if !c.opt.rename {
		return nil
	}
	cfg := &rename.Config{
		Family:   4, // a node is NAME@IPv4
		Debounce: c.opt.renameDebounce,
		Grace:    c.opt.renameGrace,
	}
	if c.opt.verbose {
		cfg.Logger = c.log.With(slog.String("part", "rename"))
	}
	w, err := rename.Watch(ctx, cfg)
	if err != nil {
		c.warn("warning: not following address changes: %v", err)
		return nil
	}
	return w
}

// follow acts on a change of the identity address, on the loop (see
// applyChange).
func (c *core) follow(ch rename.Change) netip.Addr {
	var retry netip.Addr
	c.onLoop(func() error { retry = c.applyChange(ch); return nil })
	return retry
}

// applyChange acts on a change of the identity address: a new address
// renames the node (or brings it back, when offline), a lost one makes it
// leave. It returns the address to retry with when joining under it
// failed, else the zero netip.Addr. It runs on the loop.
func (c *core) applyChange(ch rename.Change) netip.Addr {
	c.mu.Lock()
	online, cur := c.t != nil, c.adv.Addr()
	c.mu.Unlock()
	switch {
	case !ch.New.IsValid():
		if online {
			c.loseAddr(ch.Old)
		}
		return netip.Addr{}
	case online && ch.New == cur:
		return netip.Addr{}
	}
	if err := c.renameTo(ch.New); err != nil {
		c.warn("%v (retrying every %s)", err, c.opt.retry)
		return ch.New
	}
	return netip.Addr{}
}

// loseAddr leaves the cluster after the address old was lost with none to
// replace it: the agent keeps running offline (no tracker; list and pick
// find nothing, track and untrack are kept for later) until an address
// returns, when renameTo joins again. The leave is attempted, but with no
// address it rarely reaches the peers, which then declare the node dead.
// It runs on the loop.
func (c *core) loseAddr(old netip.Addr) {
	c.retire(true)
	c.warn("address %s lost: left the cluster as %s; waiting for an address", old, c.prevName)
}
