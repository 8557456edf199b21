package discover

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// Bounds of what an Agent publishes.
const (
	// MaxPublished bounds the instances an Agent publishes.
	MaxPublished = 64
	// MaxInstanceLabel is the longest DNS-SD instance name (RFC 6763
	// section 4.1.1), in bytes.
	MaxInstanceLabel = 63
	// maxPacket bounds the mDNS packets an Agent sends: answers that do
	// not fit are split over several.
	maxPacket = 1400
)

// servicesName is the DNS-SD meta-query name (RFC 6763 section 9).
const servicesName = "_services._dns-sd._udp.local."

// Instance is a DNS-SD service instance an Agent publishes: NAME._SERVICE._tcp.local
// with SRV to the agent's host name and Port, and TXT.
type Instance struct {
	Name    string   // instance name: UTF-8, 1 to MaxInstanceLabel bytes
	Service string   // service name, without "_" and "._tcp" (see ValidServiceName)
	Port    uint16   // not 0
	TXT     []string // "key=value" strings, each at most 255 bytes
}

// ValidServiceName reports whether s is a DNS-SD service name (RFC 6763
// section 7.2): 1 to 15 letters, digits and hyphens, at least one letter,
// no hyphen at either end nor two in a row.
func ValidServiceName(s string) bool {
	if len(s) == 0 || len(s) > 15 || s[0] == '-' || s[len(s)-1] == '-' || strings.Contains(s, "--") {
		return false
	}
	letter := false
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			letter = true
		case c >= '0' && c <= '9', c == '-':
		default:
			return false
		}
	}
	return letter
}

// check reports why in cannot be published, if it cannot.
func (in Instance) check() error {
	switch {
	case in.Name == "" || len(in.Name) > MaxInstanceLabel:
		return fmt.Errorf("instance name %q: want 1 to %d bytes", in.Name, MaxInstanceLabel)
	case !ValidServiceName(in.Service):
		return fmt.Errorf("service name %q: want 1 to 15 letters, digits and hyphens", in.Service)
	case in.Port == 0:
		return fmt.Errorf("instance %q: port 0", in.Name)
	}
	for _, s := range in.TXT {
		if len(s) > maxTXT {
			return fmt.Errorf("instance %q: TXT string over %d bytes", in.Name, maxTXT)
		}
	}
	return nil
}

// serviceType is the DNS-SD service type of service: _SERVICE._tcp.local.
func serviceType(service string) string { return "_" + service + "._tcp.local." }

// fqdn is the owner name of in's SRV and TXT records.
func (in Instance) fqdn() string { return escapeLabel(in.Name) + "." + serviceType(in.Service) }

// key identifies in among the published instances (see nameKey).
func (in Instance) key() string { return nameKey(in.fqdn()) }

// nameKey is a form of the domain name s that is the same for every
// presentation (escapes) and case of it: its labels, unescaped and in
// lower case, NUL-separated.
func nameKey(s string) string {
	labels := dns.SplitDomainName(s)
	for i, l := range labels {
		labels[i] = strings.ToLower(unescapeLabel(l))
	}
	return strings.Join(labels, "\x00")
}

// records returns in's PTR, SRV and TXT records with TTL t, its SRV
// pointing at host.
func (in Instance) records(host string, t uint32) []dns.RR {
	name := in.fqdn()
	txt := in.TXT
	if len(txt) == 0 {
		txt = []string{""} // RFC 6763 section 6.1: never an empty TXT record
	}
	return []dns.RR{
		&dns.PTR{Hdr: header(serviceType(in.Service), dns.TypePTR, false, t), Ptr: name},
		&dns.SRV{Hdr: header(name, dns.TypeSRV, true, t), Target: host, Port: in.Port},
		&dns.TXT{Hdr: header(name, dns.TypeTXT, true, t), Txt: txt},
	}
}

// header is an mDNS record header; flush sets the cache-flush bit of
// unique records.
func header(name string, typ uint16, flush bool, t uint32) dns.RR_Header {
	class := uint16(dns.ClassINET)
	if flush {
		class |= 1 << 15
	}
	return dns.RR_Header{Name: name, Rrtype: typ, Class: class, Ttl: t}
}

// pack packs rrs into as few responses of at most maxPacket bytes as it
// can, keeping each group (an instance's records) in one packet.
func pack(groups [][]dns.RR) ([][]byte, error) {
	var out [][]byte
	var cur []dns.RR
	flush := func() error {
		if len(cur) == 0 {
			return nil
		}
		b, err := (&dns.Msg{MsgHdr: dns.MsgHdr{Response: true, Authoritative: true}, Answer: cur}).Pack()
		out, cur = append(out, b), nil
		return err
	}
	for _, g := range groups {
		next := append(append([]dns.RR{}, cur...), g...)
		if len(cur) > 0 && (&dns.Msg{Answer: next}).Len() > maxPacket {
			if err := flush(); err != nil {
				return nil, err
			}
			next = append([]dns.RR{}, g...)
		}
		cur = next
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

// errTooMany is returned by Publish for a set over MaxPublished.
var errTooMany = errors.New("discover: too many instances to publish")

// Publish makes set the instances the agent publishes: it announces the
// new and changed ones (twice, repeatAfter apart) and sends goodbyes for
// the ones no longer in set. It does not block: the agent's goroutine
// sends. Invalid instances and a set over MaxPublished are an error, and
// nothing changes.
func (a *Agent) Publish(set []Instance) error {
	if len(set) > MaxPublished {
		return errTooMany
	}
	next := make(map[string]Instance, len(set))
	for _, in := range set {
		if err := in.check(); err != nil {
			return fmt.Errorf("discover: %w", err)
		}
		next[in.key()] = in
	}
	a.pubMu.Lock()
	for k, old := range a.pub {
		if _, ok := next[k]; !ok {
			a.gone = append(a.gone, old.records(a.host, 0))
			delete(a.fresh, k)
		}
	}
	for k, in := range next {
		if old, ok := a.pub[k]; !ok || !sameInstance(old, in) {
			a.fresh[k] = true
		}
	}
	a.pub = next
	a.pubMu.Unlock()
	select {
	case a.kick <- struct{}{}:
	default: // a kick is pending: it takes this change too
	}
	return nil
}

func sameInstance(x, y Instance) bool {
	return x.Name == y.Name && x.Service == y.Service && x.Port == y.Port && slices.Equal(x.TXT, y.TXT)
}

// takeChanges sends the pending goodbyes and returns the keys of the
// instances to announce.
func (a *Agent) takeChanges() map[string]bool {
	a.sendMu.Lock()
	defer a.sendMu.Unlock()
	a.pubMu.Lock()
	gone, fresh := a.gone, a.fresh
	a.gone, a.fresh = nil, map[string]bool{}
	a.pubMu.Unlock()
	a.sendGroups(gone)
	return fresh
}

// announceInstances announces the published instances with keys in
// keys, or all of them when keys is nil.
func (a *Agent) announceInstances(keys map[string]bool) {
	a.sendMu.Lock()
	defer a.sendMu.Unlock()
	a.pubMu.Lock()
	var groups [][]dns.RR
	for _, k := range slices.Sorted(maps.Keys(a.pub)) {
		if keys == nil || keys[k] {
			groups = append(groups, a.withHost(a.pub[k].records(a.host, ttl)))
		}
	}
	a.pubMu.Unlock()
	a.sendGroups(groups)
}

// withHost appends the host's A record to rrs.
func (a *Agent) withHost(rrs []dns.RR) []dns.RR { return append(rrs, a.addrRR) }

// withdrawAll returns the goodbyes of every instance published or
// withdrawn and not said goodbye to yet, and publishes none from now.
func (a *Agent) withdrawAll() [][]dns.RR {
	a.pubMu.Lock()
	defer a.pubMu.Unlock()
	gone := a.gone
	for _, k := range slices.Sorted(maps.Keys(a.pub)) {
		gone = append(gone, a.pub[k].records(a.host, 0))
	}
	a.pub, a.gone, a.fresh = map[string]Instance{}, nil, map[string]bool{}
	return gone
}

// sendGroups sends groups of records, packed (see pack).
func (a *Agent) sendGroups(groups [][]dns.RR) {
	if len(groups) == 0 {
		return
	}
	pkts, err := pack(groups)
	if err != nil {
		a.log.Debug("mdns pack", "err", err)
		return
	}
	a.sendPackets(pkts)
}

func (a *Agent) sendPackets(pkts [][]byte) {
	for _, p := range pkts {
		a.send(p)
	}
}

// answer answers the questions of query m the agent holds records for:
// its own announcement, the published service types and instances, and
// its host's address.
func (a *Agent) answer(m *dns.Msg) {
	seen := map[string]bool{}
	var groups [][]dns.RR
	add := func(key string, rrs []dns.RR) {
		if !seen[key] {
			seen[key] = true
			groups = append(groups, rrs)
		}
	}
	a.sendMu.Lock()
	defer a.sendMu.Unlock()
	a.pubMu.Lock()
	for _, q := range m.Question {
		name := nameKey(q.Name)
		ptr := q.Qtype == dns.TypePTR || q.Qtype == dns.TypeANY
		switch {
		case ptr && name == nameKey(Service): // answered below
		case ptr && name == nameKey(servicesName):
			add(servicesName, a.typesLocked())
		case name == nameKey(a.host) && (q.Qtype == dns.TypeA || q.Qtype == dns.TypeANY):
			add(a.host, []dns.RR{a.addrRR})
		default:
			for _, k := range slices.Sorted(maps.Keys(a.pub)) {
				in := a.pub[k]
				if (ptr && name == nameKey(serviceType(in.Service))) || name == k {
					add(k, a.withHost(in.records(a.host, ttl)))
				}
			}
		}
	}
	a.pubMu.Unlock()
	if asksForUs(m) {
		a.send(a.resp)
	}
	a.sendGroups(groups)
}

// typesLocked returns the PTR records of the meta-query: one per service
// type published, and Service. a.pubMu is held.
func (a *Agent) typesLocked() []dns.RR {
	types := map[string]bool{strings.ToLower(Service): true}
	for _, in := range a.pub {
		types[strings.ToLower(serviceType(in.Service))] = true
	}
	var rrs []dns.RR
	for _, t := range slices.Sorted(maps.Keys(types)) {
		rrs = append(rrs, &dns.PTR{Hdr: header(servicesName, dns.TypePTR, false, ttl), Ptr: t})
	}
	return rrs
}
