package scan

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// Limits that keep a flood of hostile mDNS packets from growing memory
// without bound. Records beyond a limit are ignored.
const (
	maxMDNSHosts       = 1024 // addresses with a name or service
	maxNamesPerHost    = 8
	maxServicesPerHost = 32
	maxMDNSNames       = 2048 // host names seen in A records, and again in AAAA records
	maxAddrsPerName    = 8    // A records per name, and AAAA records per name
	maxMDNSInstances   = 2048 // service instances seen in PTR or SRV records
	maxServiceTypes    = 128
	maxTypesPerTarget  = 32
)

// servicesName is the DNS-SD meta-query that lists every published service
// type (RFC 6763 section 9).
const servicesName = "_services._dns-sd._udp.local."

// mdnsHostEntry is what is known about one address.
type mdnsHostEntry struct {
	names    []string // normalised: "labhost2.local"
	services []string // normalised: "_ssh._tcp"
}

// mdnsState collects what mDNS answers tell about the link. It is plain
// data driven by handlePacket, so hostile packets can be fed to it without
// sockets; all maps are bounded by the max* limits.
type mdnsState struct {
	port        uint16 // responses come from this UDP port (5353)
	zone        string // of link-local IPv6 addresses: the browsed interface
	hosts       map[netip.Addr]*mdnsHostEntry
	nameAddrs   map[string][]netip.Addr // host name -> IPv4 addresses from A records
	name6       map[string][]netip.Addr // host name -> IPv6 addresses from AAAA and ip6.arpa PTR records
	named6      map[netip.Addr]bool     // the addresses in name6, without zone
	targetTypes map[string][]string     // SRV target host name -> service types
	instances   map[string]string       // instance name (lowercase, FQDN) -> SRV target ("" before the SRV arrives)
	types       map[string]bool         // service types seen, "_ssh._tcp"
}

func newMDNSState(port uint16) *mdnsState {
	return &mdnsState{
		port:        port,
		hosts:       make(map[netip.Addr]*mdnsHostEntry),
		nameAddrs:   make(map[string][]netip.Addr),
		name6:       make(map[string][]netip.Addr),
		named6:      make(map[netip.Addr]bool),
		targetTypes: make(map[string][]string),
		instances:   make(map[string]string),
		types:       make(map[string]bool),
	}
}

// handlePacket parses one mDNS packet received from src and records what
// its answer, authority and additional sections say. It returns whether
// anything new was learned and the follow-up questions worth asking
// (instances of new service types, SRV of new instances, A of unresolved
// SRV targets, reverse PTR of new addresses). Answers are accepted from
// any address on the link, but only from the mDNS port (RFC 6762 section
// 11). Queries, malformed packets and records with a zero TTL (goodbyes)
// are ignored.
func (s *mdnsState) handlePacket(pkt []byte, src netip.AddrPort) (changed bool, follow []dns.Question) {
	if src.Port() != s.port {
		return false, nil
	}
	var m dns.Msg
	if err := m.Unpack(pkt); err != nil || !m.Response || m.Opcode != dns.OpcodeQuery {
		return false, nil
	}
	var rrs []dns.RR
	rrs = append(rrs, m.Answer...)
	rrs = append(rrs, m.Ns...)
	rrs = append(rrs, m.Extra...)
	return s.handleRecords(rrs)
}

// handleRecords is handlePacket after parsing.
func (s *mdnsState) handleRecords(rrs []dns.RR) (changed bool, follow []dns.Question) {
	var newAddrs []netip.Addr
	var newTypes, newInstances, newTargets []string
	for _, rr := range rrs {
		h := rr.Header()
		if h == nil || h.Class&^(1<<15) != dns.ClassINET || h.Ttl == 0 {
			continue
		}
		switch rr := rr.(type) {
		case *dns.A:
			c, isNew := s.addA(rr)
			changed = changed || c
			if isNew {
				newAddrs = append(newAddrs, addrOfA(rr))
			}
		case *dns.AAAA:
			changed = s.addAAAA(rr) || changed
		case *dns.PTR:
			c, typ, inst := s.addPTR(rr)
			changed = changed || c
			if typ != "" {
				newTypes = append(newTypes, typ)
			}
			if inst != "" {
				newInstances = append(newInstances, inst)
			}
		case *dns.SRV:
			c, target := s.addSRV(rr)
			changed = changed || c
			if target != "" {
				newTargets = append(newTargets, target)
			}
		}
	}
	// Follow-ups are decided after the whole packet, since answers usually
	// carry their SRV and A records in the additional section.
	for _, typ := range newTypes {
		follow = append(follow, question(typ+".local.", dns.TypePTR))
	}
	for _, inst := range newInstances {
		if s.instances[inst] == "" {
			follow = append(follow, question(inst, dns.TypeSRV))
		}
	}
	for _, target := range newTargets {
		if len(s.nameAddrs[target]) == 0 && len(s.name6[target]) == 0 {
			follow = append(follow, question(target+".", dns.TypeA), question(target+".", dns.TypeAAAA))
		}
	}
	for _, a := range newAddrs {
		follow = append(follow, reverseQuestion(a))
	}
	return changed, follow
}

func addrOfA(rr *dns.A) netip.Addr {
	a, _ := netip.AddrFromSlice(rr.A.To4())
	return a
}

// addA records host name -> address. isNew reports an address first seen
// for this name.
func (s *mdnsState) addA(rr *dns.A) (changed, isNew bool) {
	name, ok := hostName(rr.Hdr.Name)
	a := addrOfA(rr)
	if !ok || !usableAddr(a) {
		return false, false
	}
	changed = s.addName(a, name)
	addrs, known := s.nameAddrs[name]
	if slices.Contains(addrs, a) || len(addrs) >= maxAddrsPerName || (!known && len(s.nameAddrs) >= maxMDNSNames) {
		return changed, false
	}
	s.nameAddrs[name] = append(addrs, a)
	for _, typ := range s.targetTypes[name] {
		s.addService(a, typ)
	}
	return true, true
}

// addAAAA records host name -> IPv6 address, within the same limits as
// addA.
func (s *mdnsState) addAAAA(rr *dns.AAAA) bool {
	name, ok := hostName(rr.Hdr.Name)
	a, _ := netip.AddrFromSlice(rr.AAAA.To16())
	return ok && s.add6(name, a)
}

// add6 records host name -> IPv6 address a, within the same limits as
// addA. Link-local addresses get the zone of the browsed interface.
func (s *mdnsState) add6(name string, a netip.Addr) bool {
	if !usableAddr6(a) {
		return false
	}
	bare := a
	if a.IsLinkLocalUnicast() {
		a = a.WithZone(s.zone)
	}
	addrs, known := s.name6[name]
	if slices.Contains(addrs, a) || len(addrs) >= maxAddrsPerName || (!known && len(s.name6) >= maxMDNSNames) {
		return false
	}
	s.name6[name] = append(addrs, a)
	s.named6[bare] = true
	return true
}

// addPTR handles the three kinds of PTR an mDNS browse sees: reverse
// mappings, the list of service types, and the instances of one type.
func (s *mdnsState) addPTR(rr *dns.PTR) (changed bool, newType, newInstance string) {
	owner := strings.ToLower(rr.Hdr.Name)
	if a, ok := parseReverse(owner); ok {
		name, ok := hostName(rr.Ptr)
		if !ok || !usableAddr(a) {
			return false, "", ""
		}
		return s.addName(a, name), "", ""
	}
	if a, ok := parseReverse6(owner); ok {
		name, ok := hostName(rr.Ptr)
		return ok && s.add6(name, a), "", ""
	}
	if owner == servicesName {
		typ, ok := serviceType(rr.Ptr)
		if !ok || s.types[typ] || len(s.types) >= maxServiceTypes {
			return false, "", ""
		}
		s.types[typ] = true
		return true, typ, ""
	}
	if _, ok := serviceType(owner); !ok {
		return false, "", ""
	}
	inst := strings.ToLower(rr.Ptr)
	if _, ok := instanceType(inst); !ok {
		return false, "", ""
	}
	if _, known := s.instances[inst]; known || len(s.instances) >= maxMDNSInstances {
		return false, "", ""
	}
	s.instances[inst] = ""
	return true, "", inst
}

// addSRV links an instance to its target host, and so its service type to
// the target's addresses. newTarget is set when the target is new for the
// instance.
func (s *mdnsState) addSRV(rr *dns.SRV) (changed bool, newTarget string) {
	inst := strings.ToLower(rr.Hdr.Name)
	typ, ok := instanceType(inst)
	if !ok {
		return false, ""
	}
	target, ok := hostName(rr.Target)
	if !ok {
		return false, ""
	}
	old, known := s.instances[inst]
	if old == target || (!known && len(s.instances) >= maxMDNSInstances) {
		return false, ""
	}
	s.instances[inst] = target
	types := s.targetTypes[target]
	if !slices.Contains(types, typ) && len(types) < maxTypesPerTarget &&
		(types != nil || len(s.targetTypes) < maxMDNSNames) {
		s.targetTypes[target] = append(types, typ)
	}
	for _, a := range s.nameAddrs[target] {
		s.addService(a, typ)
	}
	return true, target
}

// entry returns the entry for a, creating it unless the host limit is
// reached (then nil).
func (s *mdnsState) entry(a netip.Addr) *mdnsHostEntry {
	e := s.hosts[a]
	if e == nil && len(s.hosts) < maxMDNSHosts {
		e = &mdnsHostEntry{}
		s.hosts[a] = e
	}
	return e
}

func (s *mdnsState) addName(a netip.Addr, name string) bool {
	e := s.entry(a)
	return e != nil && addNew(&e.names, name, maxNamesPerHost)
}

func (s *mdnsState) addService(a netip.Addr, typ string) bool {
	e := s.entry(a)
	return e != nil && addNew(&e.services, typ, maxServicesPerHost)
}

// addNew appends v to *list unless it is there already or the list holds
// limit values; it reports whether it did.
func addNew(list *[]string, v string, limit int) bool {
	if slices.Contains(*list, v) || len(*list) >= limit {
		return false
	}
	*list = append(*list, v)
	return true
}

// answered reports whether q needs no retransmission: its answer is a
// single record we already have. Browse questions (PTR of a service type
// or of the type list) collect answers from many hosts and are never
// answered.
func (s *mdnsState) answered(q dns.Question) bool {
	switch q.Qtype {
	case dns.TypeA:
		name, _ := hostName(q.Name)
		return len(s.nameAddrs[name]) > 0
	case dns.TypeAAAA:
		name, _ := hostName(q.Name)
		return len(s.name6[name]) > 0
	case dns.TypeSRV:
		return s.instances[strings.ToLower(q.Name)] != ""
	case dns.TypePTR:
		name := strings.ToLower(q.Name)
		if a, ok := parseReverse6(name); ok {
			return s.named6[a]
		}
		a, ok := parseReverse(name)
		if !ok {
			return false
		}
		e := s.hosts[a]
		return e != nil && len(e.names) > 0
	}
	return false
}

// result returns the hosts with at least one name or service, sorted by
// address, names and services sorted. A host's IPv6 addresses are those
// of its names' AAAA records; a name with AAAA records but no IPv4 host is
// a host of its own, listed by its preferred IPv6 address (of the sorted
// ones, so that the order of answers does not matter).
func (s *mdnsState) result() []MDNSHost {
	var out []MDNSHost
	named := make(map[string]bool) // names of IPv4 hosts
	for a, e := range s.hosts {
		if len(e.names) == 0 && len(e.services) == 0 {
			continue
		}
		h := MDNSHost{Addr: a, Names: slices.Clone(e.names), Services: slices.Clone(e.services)}
		for _, n := range e.names {
			named[n] = true
			h.IPv6 = appendNew(h.IPv6, s.name6[n]...)
		}
		out = append(out, h)
	}
	for n, addrs := range s.name6 {
		if !named[n] {
			addrs = slices.Clone(addrs)
			slices.SortFunc(addrs, netip.Addr.Compare)
			out = append(out, MDNSHost{Addr: preferred6(addrs), Names: []string{n},
				Services: slices.Clone(s.targetTypes[n]), IPv6: addrs})
		}
	}
	for i := range out {
		slices.Sort(out[i].Names)
		slices.Sort(out[i].Services)
		slices.SortFunc(out[i].IPv6, netip.Addr.Compare)
	}
	slices.SortFunc(out, func(x, y MDNSHost) int { return x.Addr.Compare(y.Addr) })
	return out
}

// preferred6 returns the first global or unique local address of addrs,
// else the first one.
func preferred6(addrs []netip.Addr) netip.Addr {
	if i := slices.IndexFunc(addrs, netip.Addr.IsGlobalUnicast); i >= 0 {
		return addrs[i]
	}
	return addrs[0]
}

func appendNew(list []netip.Addr, add ...netip.Addr) []netip.Addr {
	for _, a := range add {
		if !slices.Contains(list, a) {
			list = append(list, a)
		}
	}
	return list
}

func question(name string, qtype uint16) dns.Question {
	return dns.Question{Name: name, Qtype: qtype, Qclass: dns.ClassINET}
}

// reverseQuestion asks for the PTR of an IPv4 address:
// 192.0.2.7 -> 7.2.0.192.in-addr.arpa.
func reverseQuestion(a netip.Addr) dns.Question {
	b := a.As4()
	name := strconv.Itoa(int(b[3])) + "." + strconv.Itoa(int(b[2])) + "." +
		strconv.Itoa(int(b[1])) + "." + strconv.Itoa(int(b[0])) + ".in-addr.arpa."
	return question(name, dns.TypePTR)
}

// reverseQuestion6 asks for the PTR of an IPv6 address (without its
// zone), in the ip6.arpa nibble form (RFC 3596).
func reverseQuestion6(a netip.Addr) dns.Question {
	return question(reverseName(a.WithZone("")), dns.TypePTR)
}

// parseReverse6 turns a lowercase ip6.arpa name of 32 nibbles,
// "b.a.9.8. ... .0.ip6.arpa.", into its IPv6 address.
func parseReverse6(name string) (netip.Addr, bool) {
	rest, ok := strings.CutSuffix(name, ".ip6.arpa.")
	if !ok || len(rest) != 63 {
		return netip.Addr{}, false
	}
	var b [16]byte
	for i := range 32 {
		c := rest[2*i]
		if i < 31 && rest[2*i+1] != '.' {
			return netip.Addr{}, false
		}
		var n byte
		switch {
		case '0' <= c && c <= '9':
			n = c - '0'
		case 'a' <= c && c <= 'f':
			n = c - 'a' + 10
		default:
			return netip.Addr{}, false
		}
		// Nibble i counts from the end: the low nibble of the last byte first.
		j := 31 - i
		b[j/2] |= n << (4 * (1 - j%2))
	}
	return netip.AddrFrom16(b), true
}

// parseReverse turns a lowercase "d.c.b.a.in-addr.arpa." into a.b.c.d.
func parseReverse(name string) (netip.Addr, bool) {
	rest, ok := strings.CutSuffix(name, ".in-addr.arpa.")
	if !ok {
		return netip.Addr{}, false
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 4 {
		return netip.Addr{}, false
	}
	var b [4]byte
	for i, p := range parts {
		if len(p) == 0 || len(p) > 3 || (len(p) > 1 && p[0] == '0') {
			return netip.Addr{}, false
		}
		n, err := strconv.ParseUint(p, 10, 8)
		if err != nil {
			return netip.Addr{}, false
		}
		b[3-i] = byte(n)
	}
	return netip.AddrFrom4(b), true
}

// usableAddr rejects addresses no host can be reached at.
func usableAddr(a netip.Addr) bool {
	return a.Is4() && !a.IsUnspecified() && !a.IsMulticast() && !a.IsLoopback() &&
		a != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

// usableAddr6 accepts the IPv6 unicast addresses a host on the link can
// be reached at: global, unique local and link-local.
func usableAddr6(a netip.Addr) bool {
	return a.Is6() && !a.Is4In6() && (a.IsGlobalUnicast() || a.IsLinkLocalUnicast())
}

// hostName normalises a DNS host name to lowercase without the trailing
// dot ("LabHost2.local." -> "labhost2.local"). Names that would not be
// safe in a hosts file (escapes, spaces, anything but letters, digits, '-'
// and '_') are rejected.
func hostName(name string) (string, bool) {
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	if name == "" || len(name) > 253 || strings.HasSuffix(name, ".in-addr.arpa") || strings.HasSuffix(name, ".ip6.arpa") {
		return "", false
	}
	for label := range strings.SplitSeq(name, ".") {
		if !validLabel(label) || label[0] == '_' {
			return "", false
		}
	}
	return name, true
}

func validLabel(label string) bool {
	if len(label) == 0 || len(label) > 63 {
		return false
	}
	for i := 0; i < len(label); i++ {
		c := label[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// serviceType normalises a service type name: "_SSH._tcp.local." ->
// "_ssh._tcp". Subtypes and other domains than local are rejected.
func serviceType(name string) (string, bool) {
	labels := dns.SplitDomainName(strings.ToLower(name))
	if len(labels) != 3 || labels[2] != "local" {
		return "", false
	}
	return typeLabels(labels[0], labels[1])
}

// instanceType returns the normalised service type of a service instance
// name: "ssh on labhost2._ssh._tcp.local." -> "_ssh._tcp".
func instanceType(name string) (string, bool) {
	if len(name) > 255 {
		return "", false
	}
	labels := dns.SplitDomainName(strings.ToLower(name))
	n := len(labels)
	if n < 4 || labels[n-1] != "local" || labels[n-4] == "" {
		return "", false
	}
	return typeLabels(labels[n-3], labels[n-2])
}

func typeLabels(service, proto string) (string, bool) {
	if (proto != "_tcp" && proto != "_udp") || len(service) < 2 || service[0] != '_' || !validLabel(service) {
		return "", false
	}
	return service + "." + proto, true
}
