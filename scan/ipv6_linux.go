package scan

import (
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/sys/unix"

	"github.com/ipfinder-go/ipfinder/internal/rtnl"
)

// neighborTable returns the MACs of the kernel's IPv6 neighbour entries on
// ifi, by address (link-local ones with ifi's zone).
func neighborTable(ifi *net.Interface) (map[netip.Addr]net.HardwareAddr, error) {
	neighs, err := rtnl.Neighbors(ifi.Index, unix.AF_INET6)
	if err != nil {
		return nil, fmt.Errorf("scan: IPv6 neighbours of %s: %w", ifi.Name, err)
	}
	return neighborMACs(neighs, ifi.Name), nil
}

// unresolved are the neighbour states without a usable MAC.
const unresolved = unix.NUD_INCOMPLETE | unix.NUD_FAILED | unix.NUD_NOARP

// neighborMACs keeps the entries of neighs that hold an Ethernet MAC.
func neighborMACs(neighs []rtnl.Neigh, zone string) map[netip.Addr]net.HardwareAddr {
	out := make(map[netip.Addr]net.HardwareAddr)
	for _, n := range neighs {
		a := n.Addr
		if !a.Is6() || a.Is4In6() || n.State&unresolved != 0 || len(n.MAC) != 6 {
			continue
		}
		if a.IsLinkLocalUnicast() {
			a = a.WithZone(zone)
		}
		out[a] = n.MAC
	}
	return out
}
