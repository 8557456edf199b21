// Package discover finds sdjoin agents on the local link over mDNS
// (RFC 6762, DNS-SD RFC 6763) and announces this one.
//
// Each agent announces the instance NAME._sdjoin._udp.local (NAME is the
// node name) with an SRV record pointing at its gossip address, an A
// record, and a TXT record carrying the cluster label and the discovery
// protocol version; never a key. It browses for the others, answers
// their queries, and reports every agent of the same cluster and version
// it hears of. On Close it sends goodbyes (TTL 0).
//
// # Publishing
//
// Agent.Publish sets the DNS-SD instances the agent publishes besides
// itself: NAME._SERVICE._tcp.local with SRV to the agent's host name
// (sdjoin-A-B-C-D.local, with its A record) and TXT. New and changed
// instances are announced at once and again a second later, removed
// ones get a goodbye at once, all of them one on Close. The agent answers
// PTR queries for the service types and _services._dns-sd._udp.local,
// SRV/TXT queries for the instances and A queries for its host, with
// multicast responses of at most 1400 bytes each. It does not probe: the
// caller picks names unique on the link. At most MaxPublished instances.
//
// # Interfaces
//
// An Agent works on one interface only, the one holding the advertised
// address, and never on loopback: its packets never leave that link. It
// shares UDP port 5353 with any responder on the machine (avahi-daemon).
//
// hashicorp/mdns is not used: its server answers on every interface and
// its queries cannot be cancelled (the problems scan/ met); the few
// records needed here are built with miekg/dns.
package discover
