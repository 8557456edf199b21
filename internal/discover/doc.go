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
