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
func (a *agent) watchAddress(ctx context.Context) *rename.Watcher {
	if !a.opt.rename {
		return nil
	}
	cfg := &rename.Config{
		Family:   4, // a node is NAME@IPv4
		Debounce: a.opt.renameDebounce,
		Grace:    a.opt.renameGrace,
	}
	if a.opt.verbose {
		cfg.Logger = a.log.With(slog.String("part", "rename"))
	}
	w, err := rename.Watch(ctx, cfg)
	if err != nil {
		a.warnf("warning: not following address changes: %v", err)
		return nil
	}
	return w
}

// follow acts on a change of the identity address: a new address renames
// the node (or brings it back, when offline), a lost one makes it leave.
// It returns the address to retry with when joining under it failed, else
// the zero netip.Addr. It runs on the main loop.
func (a *agent) follow(c rename.Change) netip.Addr {
	a.mu.Lock()
	online, cur := a.t != nil, a.adv.Addr()
	a.mu.Unlock()
	switch {
	case !c.New.IsValid():
		if online {
			a.lose(c.Old)
		}
		return netip.Addr{}
	case online && c.New == cur:
		return netip.Addr{}
	}
	if err := a.reidentify(c.New); err != nil {
		a.warnf("%v (retrying every %s)", err, a.opt.retry)
		return c.New
	}
	return netip.Addr{}
}

// lose leaves the cluster after the address old was lost with none to
// replace it: the agent keeps running offline (no tracker; list and pick
// find nothing, track and untrack are kept for later) until an address
// returns, when reidentify joins again. The leave is attempted, but with
// no address it rarely reaches the peers, which then declare the node
// dead.
func (a *agent) lose(old netip.Addr) {
	a.swapMu.Lock()
	defer a.swapMu.Unlock()
	a.mu.Lock()
	online := a.t != nil
	a.mu.Unlock()
	if !online {
		return
	}
	a.retire(true)
	a.mu.Lock()
	name := a.prevName
	a.mu.Unlock()
	a.warnf("address %s lost: left the cluster as %s; waiting for an address", old, name)
}
