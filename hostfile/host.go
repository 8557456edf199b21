package hostfile

import (
	"net"
	"net/netip"
	"time"
)

// A Host is one discovered host: one line of a hostfile.
//
// A format stores only some fields; see the package documentation for which.
type Host struct {
	Addr     netip.Addr         // IP address; always valid in parsed output except for name-only plain/erlang entries
	Port     uint16             // optional port (plain "host:port"); 0 means none
	Names    []string           // host names, canonical first
	Node     string             // optional Erlang node name, "name@host"
	MAC      net.HardwareAddr   // hardware address, if known
	Vendor   string             // vendor of MAC from the IEEE OUI registry, if known
	Services []string           // mDNS service types published by the host, e.g. "_ssh._tcp"
	Conflict []net.HardwareAddr // other MACs that answered for Addr (an IP conflict)
	LastSeen time.Time          // when the host last answered; zero if unknown
	Self     bool               // the host is this machine
}
