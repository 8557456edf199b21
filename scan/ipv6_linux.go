package scan

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
)

// neighborTable returns the MACs of the kernel's IPv6 neighbour entries on
// ifi, by address (link-local ones with ifi's zone).
func neighborTable(ifi *net.Interface) (map[netip.Addr]net.HardwareAddr, error) {
	neighs, err := netlink.NeighList(ifi.Index, netlink.FAMILY_V6)
	if err != nil {
		return nil, fmt.Errorf("scan: IPv6 neighbours of %s: %w", ifi.Name, err)
	}
	return neighborMACs(neighs, ifi.Name), nil
}

// unresolved are the neighbour states without a usable MAC.
const unresolved = netlink.NUD_INCOMPLETE | netlink.NUD_FAILED | netlink.NUD_NOARP

// neighborMACs keeps the entries of neighs that hold an Ethernet MAC.
func neighborMACs(neighs []netlink.Neigh, zone string) map[netip.Addr]net.HardwareAddr {
	out := make(map[netip.Addr]net.HardwareAddr)
	for _, n := range neighs {
		a, ok := netip.AddrFromSlice(n.IP)
		if !ok || !a.Is6() || a.Is4In6() || n.State&unresolved != 0 || len(n.HardwareAddr) != 6 {
			continue
		}
		if a.IsLinkLocalUnicast() {
			a = a.WithZone(zone)
		}
		out[a] = n.HardwareAddr
	}
	return out
}
