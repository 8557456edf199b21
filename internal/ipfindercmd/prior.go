package ipfindercmd

import (
	"net/netip"
	"slices"

	"github.com/ipfinder-go/ipfinder/hostfile"
	"github.com/ipfinder-go/ipfinder/scan"
)

// arpConfig returns the knobs of the ARP sweep of p: the rate of p's kind
// of link unless --rate, and as prior targets the addresses that were live
// before (the kernel's neighbour table, the --keep state).
func arpConfig(p scan.Plan, o *options, progress func(done, total int)) *scan.ARPConfig {
	cfg := &scan.ARPConfig{Timeout: o.timeout, Retries: o.retries, Rate: o.rate, Progress: progress, Logger: o.scanLog}
	if o.retries == 0 {
		cfg.Retries = -1 // scan treats 0 as the default
	}
	if cfg.Rate == 0 {
		cfg.Rate = scan.LinkARPRate(p.Iface.Name)
	}
	neigh, err := scan.NeighborAddrs(p.Iface.Index)
	if err != nil {
		o.log.Debug("no prior ARP targets from the neighbour table", "interface", p.Iface.Name, "err", err)
	}
	cfg.Prior = priorTargets(p.Targets, neigh, keptAddrs(o))
	o.log.Debug("ARP sweep", "interface", p.Iface.Name, "targets", len(p.Targets), "rate", cfg.Rate, "prior", len(cfg.Prior))
	return cfg
}

// priorTargets returns the addresses in any of lists that are among
// targets (sorted), sorted and unique.
func priorTargets(targets []netip.Addr, lists ...[]netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, l := range lists {
		for _, a := range l {
			if _, ok := slices.BinarySearchFunc(targets, a.Unmap(), netip.Addr.Compare); ok {
				out = append(out, a.Unmap())
			}
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

// keptAddrs returns the addresses in the --keep state, which lists the
// hosts seen within the window; none without --keep. What cannot be read
// is left out quietly: output warns about it once the sweep is done.
func keptAddrs(o *options) []netip.Addr {
	if o.keep <= 0 {
		return nil
	}
	path := statePath(o.output)
	if hostfile.CheckPlanted(path) != nil {
		return nil
	}
	hosts, _ := hostfile.ReadFile(path, &hostfile.ParseOptions{Format: hostfile.JSON, Lenient: true})
	addrs := make([]netip.Addr, 0, len(hosts))
	for _, h := range hosts {
		addrs = append(addrs, h.Addr)
	}
	return addrs
}
