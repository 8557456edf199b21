// Package scan finds the hosts on the local IPv4 subnets: an ARP sweep
// answers "which addresses are in use, by which MAC", and mDNS answers "what
// are they called, and what do they offer".
//
// # ARP
//
// [Targets] decides, as a pure function over [Iface] values, which addresses
// to sweep on which interface: by default every IPv4 subnet attached to an up,
// non-loopback, broadcast interface, without the network, broadcast and own
// addresses. [SweepARP] broadcasts one request per target at a bounded rate,
// retries the targets that stay silent, and returns one [ARPReply] per
// address that answered, with every other MAC that claimed the same address
// in [ARPReply.Conflict]. [DefaultVendors] loads the IEEE OUI registry
// that the arp-scan and ieee-data packages install, whose [Vendors.Lookup]
// names a MAC's manufacturer.
//
// [NewARP] runs the same sweep over any [net.PacketConn] that carries
// Ethernet frames, which is how the tests drive it without privileges.
//
// # mDNS
//
// The mDNS half queries multicast DNS on the same interfaces for host names
// (reverse lookups of the addresses the ARP sweep found) and for the service
// types the hosts announce, such as _ssh._tcp and Erlang's _epmd._tcp.
// [BrowseMDNS] opens a UDP socket on the interface for IPv4 (224.0.0.251)
// and, when the interface has IPv6, one for IPv6 (ff02::fb) ([DialMDNS]),
// browses over both with [MDNSBrowser.Browse] and closes them; [NewMDNS]
// runs the same browse over any [net.PacketConn], which is how the tests
// drive it. The other
// way round, [LookupMDNS] ([MDNSBrowser.Lookup]) resolves NAME.local host
// names to IPv4 addresses, as sdjoin does for its hostfile.
//
// # Names by unicast: reverse DNS and NetBIOS
//
// Most hosts on a home LAN do not answer mDNS, but the router's DNS knows
// the names of its DHCP clients, and Windows and Samba hosts answer
// NetBIOS. [LookupRDNS] asks DNS servers (the system's: [ResolvConf]) for
// the PTR records of many addresses at once over one socket, and
// [QueryNetBIOS] sends each address the node status query (UDP 137) that
// nbtscan and `nmblookup -A` send. Both send every query at once (1000 per
// second beyond 256), ask silent targets once more, and return after a
// short timeout at most, so a server or host that never answers costs that
// timeout, once. [NewRDNS] and [NewNetBIOS] run them over any
// [net.PacketConn].
//
// # IPv6 neighbours
//
// [FindIPv6] pings all-nodes (ff02::1) on an interface from each of its
// IPv6 addresses, so hosts answer from their link-local, global and unique
// local addresses, and pairs each answer with the MAC of the kernel's
// neighbour table (netlink). [DialPinger] and [NewPinger] are its ICMPv6
// echo client; NewPinger runs over any [net.PacketConn]. Hosts that do not
// answer multicast echo (net.ipv6.icmp.echo_ignore_multicast=1, some
// firewalls) are not found; privacy (temporary) addresses are found only
// when the host picks one as source to answer.
//
// # Privileges: CAP_NET_RAW
//
// ARP needs a raw packet socket, and IPv6 a raw ICMPv6 one, so [SweepARP],
// [DialARP], [FindIPv6] and [DialPinger] need
// CAP_NET_RAW: run as root, or grant the binary the capability once with
// `setcap cap_net_raw+ep /path/to/ipfinder`. Without it they return an error
// that says so. mDNS, reverse DNS and NetBIOS use ordinary UDP sockets and
// need no privileges.
//
// # Knobs
//
// [ARPConfig] holds the sweep's knobs; its zero value (or a nil *ARPConfig)
// gives defaults that finish a /24 in about half a second, catch hosts that
// answer up to about 450 ms late, and send at most 1000 requests per second
// (after a first burst of a quarter second's worth), which is safe on Wi-Fi.
// [LinkARPRate] raises that to [DefaultWiredARPRate] (10000 per second) on
// links that are not Wi-Fi. Retries spend a budget of about one more
// request per target, so a /16 (65534 targets) takes about 15 to 30 s on a
// wired link, and about two minutes on Wi-Fi.
// [ARPConfig.Prior] names addresses that were live before, such as those of
// the kernel's neighbour table ([NeighborAddrs]): they are asked first and
// retried ahead of the rest.
package scan
