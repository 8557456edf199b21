package hostfile

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// A Host is one discovered host: one line of a hostfile.
//
// A format stores only some fields; see the package documentation for which.
type Host struct {
	Addr      netip.Addr         // IP address; always valid in parsed output except for name-only plain/erlang entries
	Port      uint16             // optional port (plain "host:port"); 0 means none
	Names     []string           // host names, canonical first
	Sources   map[string]string  // where each name came from, by name: "mdns", "dns", "netbios", "self"; JSON only
	Workgroup string             // NetBIOS workgroup or domain, if known; JSON only
	Node      string             // optional Erlang node name, "name@host"
	MAC       net.HardwareAddr   // hardware address, if known
	IPv6      []netip.Addr       // the host's IPv6 addresses on the link, link-local ones with zone; a set
	Vendor    string             // vendor of MAC from the IEEE OUI registry, if known
	Services  []string           // mDNS service types published by the host, e.g. "_ssh._tcp"
	Conflict  []net.HardwareAddr // other MACs that answered for Addr (an IP conflict)
	LastSeen  time.Time          // when the host last answered; zero if unknown
	Self      bool               // the host is this machine
}

// maxName is the longest host name accepted, in bytes (the DNS limit).
const maxName = 253

// CheckHostName reports what is wrong with a host name, or nil if it can be
// written in every format; writers fail on a Host with a name it rejects.
// A name is 1 to 253 bytes of Unicode letters, digits, '-', '_' and '.',
// and its last label is not all digits (that would be a mistyped address).
// Use it to drop names that come from the network before writing them.
func CheckHostName(s string) error {
	if msg := checkName(s); msg != "" {
		return errors.New("hostfile: " + msg)
	}
	return nil
}

// checkName reports what is wrong with a host name, or "" if nothing.
// The rules keep a name free of every character that means something in
// one of the formats (spaces, '#', '%', quotes, '@', ':', '[').
func checkName(s string) string {
	if s == "" {
		return "empty host name"
	}
	if len(s) > maxName {
		return fmt.Sprintf("host name %s longer than %d bytes", quote(s), maxName)
	}
	if strings.Contains(s, ":") || allDigits(lastLabel(s)) {
		return "bad address " + quote(s) // a mistyped IPv6 or IPv4 address
	}
	if !isNameText(s) {
		return "bad host name " + quote(s)
	}
	return ""
}

// isNameText reports whether s holds only Unicode letters, digits, '-', '_'
// and '.'.
func isNameText(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '-' && r != '_' && r != '.'
	})
}

// lastLabel returns the last label of a domain name.
func lastLabel(s string) string {
	s = strings.TrimSuffix(s, ".")
	return s[strings.LastIndexByte(s, '.')+1:]
}

func allDigits(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool { return r < '0' || r > '9' })
}

// maxAtom is the longest Erlang atom, in characters.
const maxAtom = 255

// CheckNode reports what is wrong with an Erlang node name "name@host",
// or nil if it can be written in every format: the host part is an address
// or a host name (CheckHostName); the name part may hold any printable
// character but '@', '#' and white space; the whole is at most 255
// characters, as an Erlang atom.
func CheckNode(s string) error {
	if msg := checkNode(s); msg != "" {
		return errors.New("hostfile: " + msg)
	}
	return nil
}

// maxNodeName is the longest NAME that CheckNodeName accepts: NAME@HOST
// with the longest IPv6 address as HOST is still an Erlang atom.
const maxNodeName = maxAtom - len("@ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255")

// CheckNodeName reports what is wrong with NAME, the name part of a node
// name NAME@HOST that a command is given (ipfinder --name, sdjoin --name),
// or nil if nothing. NAME is 1 to 209 ASCII letters, digits, '_', '-' and
// '.': then NAME@ADDRESS, with any address, passes CheckNode, is a plain
// Erlang node name, and is safe in a file name.
func CheckNodeName(name string) error {
	switch {
	case name == "":
		return errors.New("hostfile: empty node name")
	case len(name) > maxNodeName:
		return fmt.Errorf("hostfile: node name %s longer than %d bytes", quote(name), maxNodeName)
	case strings.ContainsFunc(name, func(r rune) bool {
		return !(r == '_' || r == '-' || r == '.' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z')
	}):
		return fmt.Errorf("hostfile: bad node name %s: want ASCII letters, digits, '_', '-' and '.'", quote(name))
	}
	return nil
}

// checkNode is CheckNode, reporting what is wrong or "" if nothing.
func checkNode(s string) string {
	name, host, ok := strings.Cut(s, "@")
	if !ok || name == "" || host == "" {
		return fmt.Sprintf("bad node name %s: want name@host", quote(s))
	}
	if utf8.RuneCountInString(s) > maxAtom {
		return fmt.Sprintf("node name %s longer than %d characters", quote(s), maxAtom)
	}
	if !utf8.ValidString(name) || strings.ContainsFunc(name, func(r rune) bool {
		return r == '@' || r == '#' || unicode.IsSpace(r) || !unicode.IsPrint(r)
	}) {
		return "bad node name " + quote(s)
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return ""
	}
	if msg := checkName(host); msg != "" {
		return fmt.Sprintf("bad node name %s: %s", quote(s), msg)
	}
	return ""
}

// nodeHost returns the host of node name s: its address, or its name.
func nodeHost(s string) (netip.Addr, string) {
	_, host, _ := strings.Cut(s, "@")
	if a, err := netip.ParseAddr(host); err == nil {
		return a, ""
	}
	return netip.Addr{}, host
}

// checkService reports what is wrong with an mDNS service type, or "" if
// nothing. It follows checkName.
func checkService(s string) string {
	if s == "" || len(s) > maxName || checkName(s) != "" {
		return "bad service type " + quote(s)
	}
	return ""
}

// check reports the first field of h that no format could write.
func (h *Host) check() error {
	if z := h.Addr.Zone(); z != "" && !isNameText(z) {
		return fmt.Errorf("hostfile: host %s: bad zone %s", h.label(), quote(z))
	}
	for _, n := range h.Names {
		if msg := checkName(n); msg != "" {
			return fmt.Errorf("hostfile: host %s: %s", h.label(), msg)
		}
	}
	if h.Node != "" {
		if msg := checkNode(h.Node); msg != "" {
			return fmt.Errorf("hostfile: host %s: %s", h.label(), msg)
		}
	}
	if !validMAC(h.MAC) {
		return fmt.Errorf("hostfile: host %s: bad MAC address length %d", h.label(), len(h.MAC))
	}
	for _, a := range h.IPv6 {
		if msg := checkIPv6(a); msg != "" {
			return fmt.Errorf("hostfile: host %s: %s", h.label(), msg)
		}
	}
	for _, c := range h.Conflict {
		if len(c) == 0 || !validMAC(c) {
			return fmt.Errorf("hostfile: host %s: bad conflicting MAC address length %d", h.label(), len(c))
		}
	}
	for n, src := range h.Sources {
		if msg := checkName(n); msg != "" {
			return fmt.Errorf("hostfile: host %s: source of %s", h.label(), msg)
		}
		if msg := checkName(src); msg != "" {
			return fmt.Errorf("hostfile: host %s: bad source %s of name %s", h.label(), quote(src), quote(n))
		}
	}
	if !utf8.ValidString(h.Workgroup) || strings.ContainsFunc(h.Workgroup, unicode.IsControl) {
		return fmt.Errorf("hostfile: host %s: bad workgroup %s", h.label(), quote(h.Workgroup))
	}
	if !utf8.ValidString(h.Vendor) {
		return fmt.Errorf("hostfile: host %s: vendor %s is not UTF-8", h.label(), quote(h.Vendor))
	}
	for _, s := range h.Services {
		if msg := checkService(s); msg != "" {
			return fmt.Errorf("hostfile: host %s: %s", h.label(), msg)
		}
	}
	return nil
}

// checkIPv6 reports what is wrong with an address of Host.IPv6, or "" if
// nothing: it is an IPv6 address (not IPv4-mapped) with a zone, if any,
// that every format can hold.
func checkIPv6(a netip.Addr) string {
	switch {
	case !a.Is6() || a.Is4In6():
		return "bad IPv6 address " + quote(a.String())
	case a.Zone() != "" && !isNameText(a.Zone()):
		return "bad zone in address " + quote(a.String())
	}
	return ""
}

// ExtraAddrs returns the addresses of h.IPv6 that the hosts and plain
// formats write a line of their own for: global unicast and unique local
// ones other than h.Addr. Link-local ones need a zone to be usable, so
// only JSON lists them.
func (h *Host) ExtraAddrs() []netip.Addr {
	var out []netip.Addr
	for _, a := range h.IPv6 {
		if a.IsGlobalUnicast() && a != h.Addr {
			out = append(out, a)
		}
	}
	return out
}

// label names h in an error: its address, cut short like a quoted field.
func (h *Host) label() string {
	s := h.Addr.String()
	if len(s) > maxQuoted {
		return quote(s)
	}
	return s
}

// validMAC reports whether net.ParseMAC reads back mac.String(): mac is
// empty or an EUI-48, EUI-64 or 20-byte InfiniBand address.
func validMAC(mac net.HardwareAddr) bool {
	switch len(mac) {
	case 0, 6, 8, 20:
		return true
	}
	return false
}

// sortedHosts returns a sorted copy of hosts, with Services, IPv6 and Conflict of
// each sorted and without duplicates (they are sets), so that writers give
// the same bytes for the same hosts in any order.
//
// Hosts with an address come first, by address (netip.Addr.Compare); then
// name-only hosts by name. Ties are broken by every other field.
func sortedHosts(hosts []Host) []Host {
	out := make([]Host, len(hosts))
	for i, h := range hosts {
		h.Services = slices.Compact(slices.Sorted(slices.Values(h.Services)))
		h.IPv6 = slices.Compact(slices.SortedFunc(slices.Values(h.IPv6), netip.Addr.Compare))
		h.Conflict = slices.CompactFunc(
			slices.SortedFunc(slices.Values(h.Conflict), compareMAC),
			func(a, b net.HardwareAddr) bool { return compareMAC(a, b) == 0 })
		out[i] = h
	}
	slices.SortStableFunc(out, compareHosts)
	return out
}

func compareMAC(a, b net.HardwareAddr) int { return bytes.Compare(a, b) }

func compareHosts(a, b Host) int {
	if av, bv := a.Addr.IsValid(), b.Addr.IsValid(); av != bv {
		if av {
			return -1
		}
		return 1
	}
	return cmp.Or(
		a.Addr.Compare(b.Addr),
		slices.Compare(a.Names, b.Names),
		strings.Compare(a.Node, b.Node),
		cmp.Compare(a.Port, b.Port),
		compareMAC(a.MAC, b.MAC),
		slices.CompareFunc(a.IPv6, b.IPv6, netip.Addr.Compare),
		strings.Compare(a.Vendor, b.Vendor),
		compareSources(a.Sources, b.Sources),
		strings.Compare(a.Workgroup, b.Workgroup),
		slices.Compare(a.Services, b.Services),
		slices.CompareFunc(a.Conflict, b.Conflict, compareMAC),
		a.LastSeen.Compare(b.LastSeen),
		compareBool(a.Self, b.Self),
	)
}

// compareSources orders name sources by their sorted names, then sources.
func compareSources(a, b map[string]string) int {
	ak, bk := slices.Sorted(maps.Keys(a)), slices.Sorted(maps.Keys(b))
	if c := slices.Compare(ak, bk); c != 0 {
		return c
	}
	for _, k := range ak {
		if c := strings.Compare(a[k], b[k]); c != 0 {
			return c
		}
	}
	return 0
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}
