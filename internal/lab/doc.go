// Package lab builds a virtual LAN out of Linux network namespaces, so tests,
// benchmarks and demos can scan, query and gossip without a single packet
// reaching this machine's own interfaces.
//
// A [Lab] is N hosts, each in its own network namespace with one interface,
// eth0, whose veth peer is a port of a Linux bridge. The bridge lives in a
// namespace of its own, so the root namespace has no link to the lab at all:
// everything sent inside the lab stays inside it by construction.
//
//	l := lab.New(t, lab.Config{Hosts: 3})
//	out, err := l.Hosts[0].Command(ctx, "busybox", "ping", "-c1", l.Hosts[1].Addr.String()).CombinedOutput()
//
// # Privileges
//
// Building a lab needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN). [New] skips the
// test when not run as root, except when the environment variable CI=true,
// where it fails instead. Some helpers need tools: avahi-daemon for
// [Host.StartAvahi], nft for [Host.SetLoss] and [Lab.Partition], dnsmasq and
// busybox for [Lab.StartDHCP], dnsmasq for [Host.StartDNS], nmbd (samba) for
// [Host.StartNMBD]. Tests check for them with [NeedTools], which
// follows the same rule ([SkipOrFail]).
//
// # Names and cleanup
//
// Every namespace is named "ipfl-PID-N-..." (PID of the creating process, N a
// per-process counter), so labs of parallel tests never collide. [Lab.Close]
// kills every process in the lab's namespaces and deletes them; [New]
// registers it with t.Cleanup. Labs left behind by a crashed process are
// removed by [CleanStale], which `go run ./internal/lab/cmd/labclean` calls.
//
// # Addresses
//
// Hosts get consecutive addresses from [Config.Prefix] (.1, .2, ...) and the
// locally administered MAC 02:00:a:b:c:d for address a.b.c.d. Each host has a
// route for 224.0.0.0/4 on eth0 (so multicast works without choosing an
// interface) and no default route. IPv6 is left on in the hosts and turned off
// in the bridge namespace, so the bridge itself sends nothing.
//
// # DHCP
//
// [Lab.StartDHCP] (or [NewDHCP] in a test) serves a host its address from a
// real DHCP server, dnsmasq on another host, to a real client, busybox
// udhcpc, whose hook script applies the lease with `ip addr` and never
// touches /etc/resolv.conf. [DHCP.Move] gives the client a new address
// the way a changed reservation does (refused renewal, new lease about 3 s
// later) and [DHCP.Renew] renews it unchanged.
//
// # Names
//
// Every host's commands get an /etc/resolv.conf of their own, without a DNS
// server (through /etc/netns/NAME, which `ip netns exec` bind-mounts), so
// nothing in a lab asks the machine's DNS servers. [Host.StartDNS] runs
// dnsmasq as a home router's DNS server that knows its clients' names (A
// and PTR), [Host.UseResolver] makes it a host's DNS server, and [Host.StartNMBD] runs Samba's nmbd so the host
// answers NetBIOS name queries. None of them touches the machine's own
// resolver, Samba config or services.
//
// # Faults
//
// [Host.SetLoss] drops a random share of what a host sends, [Lab.Partition]
// cuts groups of hosts apart at the bridge, and [Host.StartSlowARP] makes a
// host answer ARP only after a delay, as Wi-Fi devices in power save do.
package lab
