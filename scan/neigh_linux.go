//go:build linux

package scan

import (
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"

	"github.com/ipfinder-go/ipfinder/internal/rtnl"
)

// liveNUD are the neighbour states of an address that answered recently
// or is configured: reachable, stale, being probed, permanent.
const liveNUD = unix.NUD_REACHABLE | unix.NUD_STALE | unix.NUD_DELAY |
	unix.NUD_PROBE | unix.NUD_PERMANENT

// NeighborAddrs returns the IPv4 addresses that the kernel's neighbour
// table (`ip -4 neigh`) holds for interface index with a hardware address
// in a live state: hosts that were on the link lately, for
// [ARPConfig.Prior]. It reads the table of the calling thread's network
// namespace.
func NeighborAddrs(index int) ([]netip.Addr, error) {
	neighs, err := rtnl.Neighbors(index, unix.AF_INET)
	if err != nil {
		return nil, fmt.Errorf("scan: reading the neighbour table: %w", err)
	}
	return liveNeighbors(neighs), nil
}

// liveNeighbors returns the IPv4 addresses of the entries with a live
// state and an Ethernet address.
func liveNeighbors(neighs []rtnl.Neigh) []netip.Addr {
	var out []netip.Addr
	for _, n := range neighs {
		a := n.Addr
		if !a.IsValid() || n.State&liveNUD == 0 || n.State&unix.NUD_NOARP != 0 || len(n.MAC) != 6 {
			continue
		}
		if a = a.Unmap(); a.Is4() {
			out = append(out, a)
		}
	}
	return out
}
