package lab

import (
	"errors"
	"net/netip"
)

// NamePrefix starts the name of every namespace a lab creates:
// "ipfl-PID-N-br" for the bridge and "ipfl-PID-N-hI" for host I.
const NamePrefix = "ipfl-"

// ErrClosed is returned by operations on a closed lab.
var ErrClosed = errors.New("lab: closed")

// Config describes a lab.
type Config struct {
	// Hosts is the number of hosts; 0 means 2.
	Hosts int
	// Prefix is the IPv4 subnet of the LAN. Hosts get its addresses .1,
	// .2, ... in order. The zero value means 10.X.0.0/24, X chosen per lab.
	Prefix netip.Prefix
}
