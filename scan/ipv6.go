package scan

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"time"
)

// An IPv6Neighbor is one IPv6 address of another host on the link, with
// the MAC the kernel's neighbour table has for it.
type IPv6Neighbor struct {
	Addr netip.Addr // link-local ones with the interface's zone
	MAC  net.HardwareAddr
}

// IPv6Config holds the knobs of FindIPv6. A nil *IPv6Config applies the
// defaults.
type IPv6Config struct {
	// Wait is how long hosts have to answer the echo to all-nodes, and
	// then how long the neighbour table has to learn the MACs of those
	// that answered; 0 means DefaultIPv6Wait.
	Wait time.Duration
	// Logger gets details; nil discards.
	Logger *slog.Logger
}

// DefaultIPv6Wait is IPv6Config.Wait's default.
const DefaultIPv6Wait = time.Second

// neighborPoll is how often FindIPv6 reads the neighbour table while it
// waits for the MACs of hosts that answered.
const neighborPoll = 20 * time.Millisecond

// FindIPv6 finds the IPv6 addresses of the other hosts on ifi's link, and
// their MACs. It pings all-nodes (ff02::1) from each of ifi's IPv6
// addresses at once: hosts answer a link-local source from their
// link-local address and a global or unique local source from their
// address of that kind, so every kind of address that ifi has is found.
// The MACs come from the kernel's neighbour table, which learns them
// from the answers; an address whose MAC it has not learnt is pinged
// once more, unicast, which makes the kernel resolve it. Addresses whose
// MAC stays unknown are left out (logged). It needs CAP_NET_RAW, and
// finds nothing when ifi has no IPv6 address.
func FindIPv6(ctx context.Context, ifi *net.Interface, cfg *IPv6Config) ([]IPv6Neighbor, error) {
	if cfg == nil {
		cfg = &IPv6Config{}
	}
	wait, log := cmp.Or(cfg.Wait, DefaultIPv6Wait), orDiscard(cfg.Logger)
	own, err := ownIPv6(ifi)
	if err != nil || len(own) == 0 {
		return nil, err
	}
	pingers, err := dialPingers(ifi, own, log)
	if err != nil || len(pingers) == 0 {
		return nil, err
	}
	defer closeAll(pingers)
	replied, err := pingAll(ctx, pingers, AllNodes.WithZone(ifi.Name), wait)
	if err != nil {
		return nil, err
	}
	replied = slices.DeleteFunc(replied, func(a netip.Addr) bool { return slices.Contains(own, a.WithZone("")) })
	return resolveMACs(ctx, ifi, pingers[0], replied, wait, log)
}

// dialPingers opens a Pinger for each of srcs. An address that cannot be
// bound, such as one still tentative (in duplicate address detection), is
// skipped; missing privileges fail.
func dialPingers(ifi *net.Interface, srcs []netip.Addr, log *slog.Logger) ([]*Pinger, error) {
	var pingers []*Pinger
	for _, src := range srcs {
		p, err := DialPinger(ifi, src, log)
		if errors.Is(err, os.ErrPermission) {
			closeAll(pingers)
			return nil, err
		}
		if err != nil {
			log.Debug("IPv6: address skipped", "addr", src, "err", err)
			continue
		}
		pingers = append(pingers, p)
	}
	return pingers, nil
}

// ownIPv6 returns ifi's IPv6 unicast addresses, without zone.
func ownIPv6(ifi *net.Interface) ([]netip.Addr, error) {
	addrs, err := ifi.Addrs()
	if err != nil {
		return nil, fmt.Errorf("scan: addresses of %s: %w", ifi.Name, err)
	}
	var out []netip.Addr
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(ipn.IP)
		if ok && ip.Is6() && !ip.Is4In6() && (ip.IsLinkLocalUnicast() || ip.IsGlobalUnicast()) {
			out = append(out, ip)
		}
	}
	return out, nil
}

// pingAll pings dst from every pinger at once and returns the union of
// the addresses that answered, sorted.
func pingAll(ctx context.Context, pingers []*Pinger, dst netip.Addr, wait time.Duration) ([]netip.Addr, error) {
	found := make([][]netip.Addr, len(pingers))
	errs := make([]error, len(pingers))
	var wg sync.WaitGroup
	for i, p := range pingers {
		wg.Go(func() { found[i], errs[i] = p.Ping(ctx, dst, wait) })
	}
	wg.Wait()
	var all []netip.Addr
	for i := range pingers {
		if errs[i] != nil {
			return nil, errs[i]
		}
		all = append(all, found[i]...)
	}
	slices.SortFunc(all, netip.Addr.Compare)
	return slices.Compact(all), nil
}

// resolveMACs pairs addrs with their MACs from ifi's neighbour table,
// pinging those it lacks once through p and polling the table for them
// until wait has passed.
func resolveMACs(ctx context.Context, ifi *net.Interface, p *Pinger, addrs []netip.Addr, wait time.Duration, log *slog.Logger) ([]IPv6Neighbor, error) {
	deadline := time.Now().Add(wait)
	pinged := false
	for {
		table, err := neighborTable(ifi)
		if err != nil {
			return nil, err
		}
		found, missing := pairMACs(addrs, table)
		if len(missing) == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			for _, a := range missing {
				log.Debug("IPv6: MAC unknown, address left out", "addr", a)
			}
			return found, ctx.Err()
		}
		if !pinged {
			for _, a := range missing {
				if err := p.Send(a); err != nil {
					log.Debug("IPv6: unicast echo", "err", err)
				}
			}
			pinged = true
		}
		time.Sleep(neighborPoll) // poll interval
	}
}

// pairMACs returns the addresses of addrs that table has a MAC for, with
// it, and the others.
func pairMACs(addrs []netip.Addr, table map[netip.Addr]net.HardwareAddr) (found []IPv6Neighbor, missing []netip.Addr) {
	for _, a := range addrs {
		if mac, ok := table[a]; ok {
			found = append(found, IPv6Neighbor{Addr: a, MAC: mac})
		} else {
			missing = append(missing, a)
		}
	}
	return found, missing
}

func closeAll(pingers []*Pinger) {
	for _, p := range pingers {
		if p != nil {
			p.Close()
		}
	}
}
