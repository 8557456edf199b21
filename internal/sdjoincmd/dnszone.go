package sdjoincmd

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/ipfinder-go/ipfinder/tracker"
)

// dnsZone answers DNS queries about the agent's view: NAME.service.DOMAIN
// (A, AAAA, SRV) and NODE.node.DOMAIN (A, AAAA). Every answer reads the
// view afresh through list and members; the SRV records built from a
// list result are kept while list returns that same slice (see srvSets).
type dnsZone struct {
	domain string // lower-case FQDN: "sdjoin."
	ttl    uint32
	// list returns the entries of the services whose names are valid
	// DNS labels equal to label, ignoring case (see listLabel).
	list func(label string) []tracker.Presence
	// members returns the live members, this node included.
	members func() []tracker.Member

	mu   sync.Mutex
	srvs map[string]*srvSet // by query name; see srvSet
}

// Sizes of DNS replies.
const (
	// maxUDPSize caps an EDNS0 client's UDP buffer size; it is also the
	// size this server advertises and reads requests into.
	maxUDPSize = 4096
	// maxTCPSize is the largest DNS message (RFC 1035, two length bytes).
	maxTCPSize = dns.MaxMsgSize
)

// ServeDNS answers one request. It never panics on a request the
// server could unpack.
func (z *dnsZone) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	_, tcp := w.RemoteAddr().(*net.TCPAddr)
	if b := z.respond(req, tcp); b != nil {
		w.Write(b)
	}
}

// respond returns the reply to req in wire form, sized for its
// transport: over UDP, trimmed to 512 bytes or the EDNS0 buffer size (at
// most maxUDPSize), TC set when answers were left out, so the client
// retries over TCP. A response gets no reply (nil): answering it could
// start a loop.
func (z *dnsZone) respond(req *dns.Msg, tcp bool) []byte {
	return z.respondWith(new(replyBuf), req, tcp)
}

// replyBuf holds what building and packing a reply needs, so a UDP
// reader reuses it from one query to the next. The reply respondWith
// returns is in out, valid until the next call. The zero value is
// ready to use.
type replyBuf struct {
	out   []byte   // the packed reply (dns.Msg.PackBuffer)
	msg   dns.Msg  // the reply
	ans   []dns.RR // SRV answers, shuffled
	extra []dns.RR // their targets' addresses
	hosts []int    // per answer: its target's index in srvSet.addrs
	seen  []bool   // per target: in extra already
	opt   dns.OPT  // the reply's EDNS0 record
	// targets is packSRVReply's scratch space.
	targets map[string]int
}

// respondWith is respond building the reply in b.
func (z *dnsZone) respondWith(b *replyBuf, req *dns.Msg, tcp bool) []byte {
	m, size := z.reply(b, req, tcp)
	if m == nil {
		return nil
	}
	m.Compress = true
	if !tcp {
		if b.targets == nil {
			b.targets = make(map[string]int)
		}
		if out := packSRVReply(m, b.out, size, b.targets); out != nil {
			b.out = out[:cap(out)]
			return out // the usual SRV answer, packed without miekg's compression map
		}
	}
	out, err := m.PackBuffer(b.out)
	if err == nil && len(out) <= size {
		b.out = out[:cap(out)]
		return out // packed once: the usual case
	}
	fit(m, size)
	if out, err = m.PackBuffer(b.out); err != nil {
		out, _ = new(dns.Msg).SetRcode(req, dns.RcodeServerFailure).PackBuffer(b.out)
	}
	b.out = out[:cap(out)]
	return out
}

// reply builds the reply to req in b.msg (nil for none) and returns the
// size it must fit.
func (z *dnsZone) reply(b *replyBuf, req *dns.Msg, tcp bool) (*dns.Msg, int) {
	if req.Response {
		return nil, 0
	}
	m := &b.msg
	*m = dns.Msg{}
	m.SetReply(req)
	switch {
	case req.Opcode != dns.OpcodeQuery:
		m.Rcode = dns.RcodeNotImplemented
	case len(req.Question) != 1:
		m.Rcode = dns.RcodeFormatError
	default:
		z.answer(b, req.Question[0])
	}
	size := dns.MinMsgSize
	if opt := req.IsEdns0(); opt != nil {
		size = min(max(int(opt.UDPSize()), dns.MinMsgSize), maxUDPSize)
		if opt.Version() != 0 {
			m.Answer, m.Ns, m.Extra = nil, nil, nil
			m.Rcode = dns.RcodeBadVers
		}
		b.opt = dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		b.opt.SetUDPSize(maxUDPSize)
		m.Extra = append(m.Extra, &b.opt) // as m.SetEdns0(maxUDPSize, false)
	}
	if tcp {
		size = maxTCPSize
	}
	return m, size
}

// fit trims m to size bytes. TC is set only when answer or authority
// records had to go: additional records are a hint (RFC 2181 9).
func fit(m *dns.Msg, size int) {
	answers, ns := len(m.Answer), len(m.Ns)
	m.Truncate(size)
	m.Truncated = len(m.Answer) < answers || len(m.Ns) < ns
}

// answer fills b.msg with the answer to q.
func (z *dnsZone) answer(b *replyBuf, q dns.Question) {
	m := &b.msg
	name := strings.ToLower(q.Name)
	if q.Qclass != dns.ClassINET || !dns.IsSubDomain(z.domain, name) {
		m.Rcode = dns.RcodeRefused
		return
	}
	m.Authoritative = true
	labels := dns.SplitDomainName(name)
	rel := labels[:len(labels)-dns.CountLabel(z.domain)]
	var found bool
	switch {
	case len(rel) == 0:
		found = true
		if q.Qtype == dns.TypeSOA {
			m.Answer = []dns.RR{z.soa()}
		}
	case len(rel) == 1 && (rel[0] == "service" || rel[0] == "node"):
		found = true // empty non-terminals: NODATA
	case len(rel) == 2 && rel[1] == "service":
		m.Answer, m.Extra, found = z.service(b, q.Name, rel[0], q.Qtype)
		found = found || isProto(rel[0]) // above _NAME._tcp: NODATA, not NXDOMAIN (RFC 8020)
	case len(rel) == 3 && rel[2] == "service" && isProto(rel[1]) && len(rel[0]) > 1 && rel[0][0] == '_':
		m.Answer, m.Extra, found = z.service(b, q.Name, rel[0][1:], q.Qtype) // RFC 2782
	case len(rel) == 2 && rel[1] == "node":
		m.Answer, found = z.node(q.Name, rel[0], q.Qtype)
	}
	if !found {
		m.Rcode = dns.RcodeNameError
	}
	if len(m.Answer) == 0 {
		m.Ns = []dns.RR{z.soa()}
	}
}

// isProto reports whether label is the protocol label of an RFC 2782
// name, _NAME._tcp.service.DOMAIN (or _udp): entries carry a port but no
// protocol, so both answer alike.
func isProto(label string) bool { return label == "_tcp" || label == "_udp" }

// soa is the zone's SOA record; its TTL and minimum, the TTL of negative
// answers, are the zone's TTL.
func (z *dnsZone) soa() dns.RR {
	return &dns.SOA{
		Hdr: dns.RR_Header{Name: z.domain, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: z.ttl},
		Ns:  "ns." + z.domain, Mbox: "hostmaster." + z.domain,
		Serial: 1, Refresh: 3600, Retry: 600, Expire: 86400, Minttl: z.ttl,
	}
}

func (z *dnsZone) hdr(name string, typ uint16) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: typ, Class: dns.ClassINET, Ttl: z.ttl}
}

// addrRR returns the A or AAAA record of a with owner name, nil when a is
// not of type typ.
func (z *dnsZone) addrRR(name string, typ uint16, a netip.Addr) dns.RR {
	a = a.Unmap()
	switch {
	case typ == dns.TypeA && a.Is4():
		return &dns.A{Hdr: z.hdr(name, typ), A: a.AsSlice()}
	case typ == dns.TypeAAAA && a.Is6() && a.Zone() == "":
		return &dns.AAAA{Hdr: z.hdr(name, typ), AAAA: a.AsSlice()}
	}
	return nil
}

// addrType returns the record type of a's address: A or AAAA.
func addrType(a netip.Addr) uint16 {
	if a.Unmap().Is4() {
		return dns.TypeA
	}
	return dns.TypeAAAA
}

// service answers NAME.service.DOMAIN (label NAME) for qtype: the
// providers' distinct addresses (A, AAAA), or one SRV per distinct node
// and port with the nodes' addresses as additional records, shuffled.
// found is false when the service has no provider.
func (z *dnsZone) service(b *replyBuf, qname, label string, qtype uint16) (ans, extra []dns.RR, found bool) {
	if !validLabel(label) {
		return nil, nil, false
	}
	ps := z.list(label)
	switch qtype {
	case dns.TypeA, dns.TypeAAAA:
		ans = z.providerAddrs(qname, qtype, ps)
	case dns.TypeSRV:
		ans, extra = z.srv(b, qname, ps)
	}
	return ans, extra, len(ps) > 0
}

func (z *dnsZone) providerAddrs(qname string, qtype uint16, ps []tracker.Presence) []dns.RR {
	var ans []dns.RR
	seen := map[netip.Addr]bool{}
	for _, p := range ps {
		a := p.Addr.Addr().Unmap()
		if rr := z.addrRR(qname, qtype, a); rr != nil && !seen[a] && !a.IsUnspecified() {
			seen[a] = true
			ans = append(ans, rr)
		}
	}
	rand.Shuffle(len(ans), func(i, j int) { ans[i], ans[j] = ans[j], ans[i] })
	return ans
}

// maxSRVSets bounds the SRV sets a zone keeps (one per query name).
const maxSRVSets = 4096

// srvSet is the SRV records of one query name built from one list
// result, identified by its first element's address and its length:
// the agent's dnsCache returns the same slice until the view changes,
// and the set keeps that slice alive, so the address cannot be reused.
type srvSet struct {
	from  *tracker.Presence
	n     int
	ans   []dns.RR // in entry order
	hosts []int    // per answer: its target's index in addrs
	addrs []dns.RR // per target host: its A or AAAA record
}

// srv returns the SRV records of ps (those with a valid port and a node
// name that maps to a label), shuffled, and in the same order their
// targets' addresses, in b's slices.
func (z *dnsZone) srv(b *replyBuf, qname string, ps []tracker.Presence) (ans, extra []dns.RR) {
	set := z.srvSet(qname, ps)
	ans, hosts := append(b.ans[:0], set.ans...), append(b.hosts[:0], set.hosts...)
	rand.Shuffle(len(ans), func(i, j int) {
		ans[i], ans[j] = ans[j], ans[i]
		hosts[i], hosts[j] = hosts[j], hosts[i]
	})
	seen := append(b.seen[:0], make([]bool, len(set.addrs))...)
	extra = b.extra[:0]
	for _, h := range hosts {
		if !seen[h] {
			seen[h] = true
			extra = append(extra, set.addrs[h])
		}
	}
	b.ans, b.hosts, b.seen, b.extra = ans, hosts, seen, extra
	return ans, extra
}

// srvSet returns the SRV set of qname for ps, built once per list result.
func (z *dnsZone) srvSet(qname string, ps []tracker.Presence) *srvSet {
	if len(ps) == 0 {
		return &srvSet{}
	}
	z.mu.Lock()
	set := z.srvs[qname]
	z.mu.Unlock()
	if set != nil && set.from == &ps[0] && set.n == len(ps) {
		return set
	}
	set = z.buildSRV(qname, ps)
	z.mu.Lock()
	if z.srvs == nil || len(z.srvs) >= maxSRVSets {
		z.srvs = make(map[string]*srvSet)
	}
	z.srvs[qname] = set
	z.mu.Unlock()
	return set
}

// buildSRV builds the SRV set of qname: one record per distinct target
// host and port.
func (z *dnsZone) buildSRV(qname string, ps []tracker.Presence) *srvSet {
	type target struct {
		host string
		port uint16
	}
	set := &srvSet{from: &ps[0], n: len(ps)}
	seen := make(map[target]bool, len(ps))
	index := map[string]int{}    // target host: its index in set.addrs
	hosts := map[string]string{} // node: its target host, "" if none
	for _, p := range ps {
		port, ok := metaPort(p.Meta)
		a := p.Addr.Addr().Unmap()
		if !ok || !a.IsValid() || a.IsUnspecified() {
			continue
		}
		host, known := hosts[p.Node]
		if !known {
			if l, ok := nodeLabel(p.Node); ok {
				host = l + ".node." + z.domain
			}
			hosts[p.Node] = host
		}
		tg := target{host, port}
		if host == "" || seen[tg] {
			continue
		}
		seen[tg] = true
		i, ok := index[host]
		if !ok {
			i = len(set.addrs)
			index[host] = i
			set.addrs = append(set.addrs, z.addrRR(host, addrType(a), a))
		}
		set.ans = append(set.ans, &dns.SRV{Hdr: z.hdr(qname, dns.TypeSRV), Priority: 1, Weight: 1, Port: port, Target: host})
		set.hosts = append(set.hosts, i)
	}
	return set
}

// metaPort returns the port in meta "port" when it is 1-65535.
func metaPort(meta map[string]string) (uint16, bool) {
	n, err := strconv.ParseUint(meta["port"], 10, 16)
	return uint16(n), err == nil && n > 0
}

// node answers NODE.node.DOMAIN (label NODE): the address of the member
// whose node name maps to label (nodeLabel), else of the one member
// whose NAME part alone maps to it (shortLabel). found is false when no
// member, or more than one by NAME, matches.
func (z *dnsZone) node(qname, label string, qtype uint16) (ans []dns.RR, found bool) {
	if !validLabel(label) {
		return nil, false
	}
	var byName []tracker.Member
	ms := z.members()
	for _, m := range ms {
		if l, ok := nodeLabel(m.Name); ok && l == label {
			return z.memberRR(qname, qtype, m), true
		}
		if l, ok := shortLabel(m.Name); ok && l == label {
			byName = append(byName, m)
		}
	}
	if len(byName) != 1 {
		return nil, false
	}
	return z.memberRR(qname, qtype, byName[0]), true
}

func (z *dnsZone) memberRR(qname string, qtype uint16, m tracker.Member) []dns.RR {
	a := m.Addr.Addr().Unmap()
	if rr := z.addrRR(qname, qtype, a); rr != nil && !a.IsUnspecified() {
		return []dns.RR{rr}
	}
	return nil
}

// validLabel reports whether s is a label this zone uses: 1 to 63
// lower-case ASCII letters, digits, '-' and '_', no '-' at either end.
func validLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// serviceLabel returns the DNS label of a service name: the name in
// lower case, when that is a valid label (so "Web" answers
// web.service.DOMAIN, and "my web" or "wéb" nothing).
func serviceLabel(service string) (string, bool) {
	for i := 0; i < len(service); i++ {
		if service[i] >= 0x80 {
			return "", false // before ToLower: it folds some runes to ASCII
		}
	}
	l := strings.ToLower(service)
	return l, validLabel(l)
}

// nodeLabel maps a node name NAME@IP to its DNS label: NAME lower-cased
// with '.' and '_' as '-', then "-at-", then IP with '.' and ':' as '-'
// ("Web.1@10.0.0.1" is web-1-at-10-0-0-1, "n1@2001:db8::1"
// n1-at-2001-db8--1). Names it does not fit (over 63 bytes, no valid IP,
// other characters) have none.
func nodeLabel(node string) (string, bool) {
	name, ip, ok := cutNode(node)
	if !ok {
		return "", false
	}
	l := name + "-at-" + ipDashes.Replace(ip.String())
	return l, validLabel(l)
}

var ipDashes = strings.NewReplacer(".", "-", ":", "-")

// shortLabel maps NAME@IP to the label of NAME alone, as nodeLabel does.
func shortLabel(node string) (string, bool) {
	name, _, ok := cutNode(node)
	return name, ok && validLabel(name)
}

// cutNode splits NAME@IP into NAME as a label part (lower case, '.' and
// '_' as '-') and IP.
func cutNode(node string) (string, netip.Addr, bool) {
	i := strings.LastIndexByte(node, '@')
	if i < 0 {
		return "", netip.Addr{}, false
	}
	ip, err := netip.ParseAddr(node[i+1:])
	if err != nil || ip.Zone() != "" {
		return "", netip.Addr{}, false
	}
	name := []byte(node[:i])
	for j, c := range name {
		switch {
		case 'A' <= c && c <= 'Z':
			name[j] = c + 'a' - 'A'
		case c == '.' || c == '_':
			name[j] = '-'
		case 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-':
		default:
			return "", netip.Addr{}, false
		}
	}
	return string(name), ip.Unmap(), true
}
