package sdjoincmd

import (
	"encoding/binary"
	"strings"

	"github.com/miekg/dns"
)

// packSRVReply packs m, when it is an SRV answer as dnsZone.srv builds
// it, into buf exactly as m.PackBuffer does with compression, without
// the compression map that costs miekg/dns most of its time: the
// records' owner names point to the question, the targets are written in
// full (RFC 2782), their address records' owner names point to the
// first of them. It returns nil when m has another shape (other
// records, an authority section, a name with escapes) or its packed form
// would exceed size: the caller then packs with miekg (and trims). Like
// PackBuffer it sets the OPT record's extended rcode. seen is scratch
// space, cleared first.
func packSRVReply(m *dns.Msg, buf []byte, size int, seen map[string]int) []byte {
	if len(m.Question) != 1 || len(m.Answer) == 0 || len(m.Ns) != 0 || m.Rcode != dns.RcodeSuccess ||
		size >= maxCompressionOffset {
		return nil
	}
	q := m.Question[0]
	if !plainName(q.Name) {
		return nil
	}
	clear(seen)
	b := appendHeader(buf[:0], m)
	b = appendName(b, q.Name)
	b = binary.BigEndian.AppendUint16(b, q.Qtype)
	b = binary.BigEndian.AppendUint16(b, q.Qclass)
	for _, rr := range m.Answer {
		srv, ok := rr.(*dns.SRV)
		if !ok || srv.Hdr.Name != q.Name || srv.Hdr.Rrtype != dns.TypeSRV {
			return nil
		}
		n := wireLen(srv.Target)
		b = appendRRHeader(b, &srv.Hdr, 6+n)
		b = binary.BigEndian.AppendUint16(b, srv.Priority)
		b = binary.BigEndian.AppendUint16(b, srv.Weight)
		b = binary.BigEndian.AppendUint16(b, srv.Port)
		if off, ok := seen[srv.Target]; ok {
			b = append(b, b[off:off+n]...) // written before: copy it
		} else if plainName(srv.Target) {
			seen[srv.Target] = len(b)
			b = appendName(b, srv.Target)
		} else {
			return nil
		}
		if len(b) > size {
			return nil
		}
	}
	for i, rr := range m.Extra {
		var ok bool
		if b, ok = appendExtra(b, rr, seen, i == len(m.Extra)-1); !ok || len(b) > size {
			return nil
		}
	}
	return b
}

// maxCompressionOffset bounds the offsets a compression pointer can
// name (14 bits).
const maxCompressionOffset = 1 << 14

// appendExtra appends an additional record of an SRV reply: the address
// of a target host packed before, or, last, the OPT record.
func appendExtra(b []byte, rr dns.RR, seen map[string]int, last bool) ([]byte, bool) {
	switch rr := rr.(type) {
	case *dns.A:
		ip := rr.A.To4()
		off, ok := seen[rr.Hdr.Name]
		if !ok || ip == nil || rr.Hdr.Rrtype != dns.TypeA {
			return b, false
		}
		b = binary.BigEndian.AppendUint16(b, 0xC000|uint16(off))
		return append(appendRRFields(b, &rr.Hdr, len(ip)), ip...), true
	case *dns.AAAA:
		off, ok := seen[rr.Hdr.Name]
		if !ok || len(rr.AAAA) != 16 || rr.Hdr.Rrtype != dns.TypeAAAA {
			return b, false
		}
		b = binary.BigEndian.AppendUint16(b, 0xC000|uint16(off))
		return append(appendRRFields(b, &rr.Hdr, 16), rr.AAAA...), true
	case *dns.OPT:
		if !last || rr.Hdr.Name != "." || rr.Hdr.Rrtype != dns.TypeOPT || len(rr.Option) != 0 {
			return b, false
		}
		rr.SetExtendedRcode(0) // as PackBuffer does, for rcode 0
		return appendRRFields(append(b, 0), &rr.Hdr, 0), true
	}
	return b, false
}

// appendHeader appends m's header with its section counts.
func appendHeader(b []byte, m *dns.Msg) []byte {
	bits := uint16(m.Opcode)<<11 | uint16(m.Rcode&0xF)
	for _, f := range []struct {
		set bool
		bit uint16
	}{
		{m.Response, 1 << 15}, {m.Authoritative, 1 << 10}, {m.Truncated, 1 << 9}, {m.RecursionDesired, 1 << 8},
		{m.RecursionAvailable, 1 << 7}, {m.Zero, 1 << 6}, {m.AuthenticatedData, 1 << 5}, {m.CheckingDisabled, 1 << 4},
	} {
		if f.set {
			bits |= f.bit
		}
	}
	for _, v := range []uint16{m.Id, bits, uint16(len(m.Question)), uint16(len(m.Answer)), uint16(len(m.Ns)), uint16(len(m.Extra))} {
		b = binary.BigEndian.AppendUint16(b, v)
	}
	return b
}

// appendRRHeader appends a record header whose owner name is the
// question's (a pointer to offset 12) and whose data is rdlen bytes.
func appendRRHeader(b []byte, h *dns.RR_Header, rdlen int) []byte {
	return appendRRFields(binary.BigEndian.AppendUint16(b, 0xC000|12), h, rdlen)
}

// appendRRFields appends a record header's fields after its owner name.
func appendRRFields(b []byte, h *dns.RR_Header, rdlen int) []byte {
	b = binary.BigEndian.AppendUint16(b, h.Rrtype)
	b = binary.BigEndian.AppendUint16(b, h.Class)
	b = binary.BigEndian.AppendUint32(b, h.Ttl)
	return binary.BigEndian.AppendUint16(b, uint16(rdlen))
}

// plainName reports whether s is a fully qualified name, not the root,
// of labels of 1 to 63 bytes without escapes: one whose wire form
// appendName writes.
func plainName(s string) bool {
	if len(s) < 2 || len(s) > 254 || s[len(s)-1] != '.' || strings.IndexByte(s, '\\') >= 0 {
		return false
	}
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			if n := i - start; n == 0 || n > 63 {
				return false
			}
			start = i + 1
		}
	}
	return true
}

// wireLen is the length of plain name s in wire form, uncompressed.
func wireLen(s string) int { return len(s) + 1 }

// appendName appends plain name s in wire form, uncompressed.
func appendName(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			b = append(b, byte(i-start))
			b = append(b, s[start:i]...)
			start = i + 1
		}
	}
	return append(b, 0)
}
