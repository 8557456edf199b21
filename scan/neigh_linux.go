//go:build linux

package scan

import (
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// liveNUD are the neighbour states of an address that answered recently
// or is configured: reachable, stale, being probed, permanent.
const liveNUD = netlink.NUD_REACHABLE | netlink.NUD_STALE | netlink.NUD_DELAY |
	netlink.NUD_PROBE | netlink.NUD_PERMANENT

// NeighborAddrs returns the IPv4 addresses that the kernel's neighbour
// table (`ip -4 neigh`) holds for interface index with a hardware address
// in a live state: hosts that were on the link lately, for
// [ARPConfig.Prior]. It reads the table of the calling thread's network
// namespace.
func NeighborAddrs(index int) ([]netip.Addr, error) {
	neighs, err := netlink.NeighList(index, unix.AF_INET)
	if err != nil {
		return nil, fmt.Errorf("scan: reading the neighbour table: %w", err)
	}
	return liveNeighbors(neighs), nil
}

// liveNeighbors returns the IPv4 addresses of the entries with a live
// state and an Ethernet address.
func liveNeighbors(neighs []netlink.Neigh) []netip.Addr {
	var out []netip.Addr
	for _, n := range neighs {
		a, ok := netip.AddrFromSlice(n.IP)
		if !ok || n.State&liveNUD == 0 || n.State&netlink.NUD_NOARP != 0 || len(n.HardwareAddr) != 6 {
			continue
		}
		if a = a.Unmap(); a.Is4() {
			out = append(out, a)
		}
	}
	return out
}
