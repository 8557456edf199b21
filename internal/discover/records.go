package discover

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// Service is the DNS-SD service type sdjoin agents announce.
const Service = "_sdjoin._udp.local."

// Version is the discovery protocol version announced in the TXT record;
// agents of another version are ignored.
const Version = "1"

// Bounds of what is kept from the network.
const (
	// MaxInstance bounds the length of an instance (node) name.
	MaxInstance = 255
	// ttl is the TTL of the records announced (RFC 6762 section 10
	// suggests 120 s for those with host names).
	ttl = 120
	// maxTXT is the longest TXT string (RFC 6763 section 6.1).
	maxTXT = 255
)

// Peer is an agent heard on the link.
type Peer struct {
	Instance string         // its node name
	Addr     netip.AddrPort // its gossip address
	Gone     bool           // it said goodbye (TTL 0)
}

// announcement is what one agent announces.
type announcement struct {
	instance string
	addr     netip.AddrPort
	cluster  string
}

// clusterTXT is the TXT string carrying label: cluster=LABEL, or, for a
// label too long for one TXT string, cluster-sha256=HEX of it.
func clusterTXT(label string) string {
	s := "cluster=" + label
	if len(s) <= maxTXT {
		return s
	}
	sum := sha256.Sum256([]byte(label))
	return "cluster-sha256=" + hex.EncodeToString(sum[:])
}

// instanceName is the owner name of instance's SRV and TXT records.
func instanceName(instance string) string {
	return escapeLabel(instance) + "." + Service
}

// hostName is the target of the SRV record: a name of its own, so as not
// to clash with the machine's host name.
func hostName(a announcement) string {
	return "sdjoin-" + strings.ReplaceAll(a.addr.Addr().String(), ".", "-") + ".local."
}

// escapeLabel escapes the characters of s that are special in a DNS
// label in presentation form.
func escapeLabel(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '.', '\\', '(', ')', ';', ' ', '"', '@', '$':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// records returns a's records with TTL t (0: goodbyes).
func (a announcement) records(t uint32) []dns.RR {
	inst, host := instanceName(a.instance), hostName(a)
	hdr := func(name string, typ uint16, flush bool) dns.RR_Header {
		class := uint16(dns.ClassINET)
		if flush {
			class |= 1 << 15 // cache-flush: unique records
		}
		return dns.RR_Header{Name: name, Rrtype: typ, Class: class, Ttl: t}
	}
	ip := a.addr.Addr().As4()
	return []dns.RR{
		&dns.PTR{Hdr: hdr(Service, dns.TypePTR, false), Ptr: inst},
		&dns.SRV{Hdr: hdr(inst, dns.TypeSRV, true), Target: host, Port: a.addr.Port()},
		&dns.TXT{Hdr: hdr(inst, dns.TypeTXT, true), Txt: []string{clusterTXT(a.cluster), "v=" + Version}},
		&dns.A{Hdr: hdr(host, dns.TypeA, true), A: ip[:]},
	}
}

// response is an unsolicited mDNS response announcing a with TTL t.
func (a announcement) response(t uint32) ([]byte, error) {
	m := &dns.Msg{MsgHdr: dns.MsgHdr{Response: true, Authoritative: true}}
	m.Answer = a.records(t)
	return m.Pack()
}

// query is an mDNS query for Service (multicast answers).
func query() ([]byte, error) {
	m := &dns.Msg{}
	m.Question = []dns.Question{{Name: Service, Qtype: dns.TypePTR, Qclass: dns.ClassINET}}
	return m.Pack()
}

// asksForUs reports whether m is a query for Service.
func asksForUs(m *dns.Msg) bool {
	if m.Response {
		return false
	}
	for _, q := range m.Question {
		if strings.EqualFold(q.Name, Service) && (q.Qtype == dns.TypePTR || q.Qtype == dns.TypeANY) {
			return true
		}
	}
	return false
}

// peers returns the agents of cluster announced in m, at most max, in the
// order of its PTR records. An instance is reported only with its SRV,
// TXT (same cluster and version) and an IPv4 A record of its target in m;
// a goodbye (PTR with TTL 0) needs only the TXT.
func peers(m *dns.Msg, cluster string, max int) []Peer {
	if !m.Response {
		return nil
	}
	rrs := append(append([]dns.RR{}, m.Answer...), m.Extra...)
	srv, txt, a := map[string]*dns.SRV{}, map[string]*dns.TXT{}, map[string]netip.Addr{}
	for _, rr := range rrs {
		switch r := rr.(type) {
		case *dns.SRV:
			srv[strings.ToLower(r.Hdr.Name)] = r
		case *dns.TXT:
			txt[strings.ToLower(r.Hdr.Name)] = r
		case *dns.A:
			if ip, ok := netip.AddrFromSlice(r.A.To4()); ok {
				a[strings.ToLower(r.Hdr.Name)] = ip
			}
		}
	}
	var out []Peer
	for _, rr := range rrs {
		ptr, ok := rr.(*dns.PTR)
		if !ok || !strings.EqualFold(ptr.Hdr.Name, Service) || len(out) >= max {
			continue
		}
		inst, ok := instanceOf(ptr.Ptr)
		if !ok {
			continue
		}
		key := strings.ToLower(ptr.Ptr)
		s, t := srv[key], txt[key]
		if t == nil || !matchTXT(t.Txt, cluster) {
			continue
		}
		if ptr.Hdr.Ttl == 0 {
			out = append(out, Peer{Instance: inst, Gone: true})
			continue
		}
		if s == nil {
			continue
		}
		ip, ok := a[strings.ToLower(s.Target)]
		if !ok || !ip.IsGlobalUnicast() || s.Port == 0 {
			continue
		}
		out = append(out, Peer{Instance: inst, Addr: netip.AddrPortFrom(ip, s.Port)})
	}
	return out
}

// instanceOf returns the instance (first label, unescaped) of name, an
// instance of Service.
func instanceOf(name string) (string, bool) {
	labels := dns.SplitDomainName(name)
	if len(labels) != 4 || !strings.EqualFold(dns.Fqdn(strings.Join(labels[1:], ".")), Service) {
		return "", false
	}
	inst := unescapeLabel(labels[0])
	if inst == "" || len(inst) > MaxInstance {
		return "", false
	}
	for _, r := range inst {
		if r < 0x21 || r > 0x7e {
			return "", false
		}
	}
	return inst, true
}

// unescapeLabel undoes escapeLabel and miekg/dns's \DDD escapes.
func unescapeLabel(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			v := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0')
			if v < 256 {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i+1])
		i++
	}
	return b.String()
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// matchTXT reports whether the TXT strings announce cluster and Version.
func matchTXT(ss []string, cluster string) bool {
	var gotCluster, gotVersion bool
	want := clusterTXT(cluster)
	for _, s := range ss {
		switch {
		case s == want:
			gotCluster = true
		case s == "v="+Version:
			gotVersion = true
		}
	}
	return gotCluster && gotVersion
}
