package scan

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// NetBIOS name service wire format (RFC 1002 sections 4.2.17 and 4.2.18).
const (
	nbstatType     = 0x21
	nbClassIN      = 1
	nbFlagResponse = 0x8000
	nbNameLen      = 15 // name bytes before the suffix byte
	nbEntryLen     = 18 // name, suffix, flags
	nbGroup        = 0x8000
	nbDeregister   = 0x1000 // DRG: the name is being deregistered
	nbConflict     = 0x0800 // CNF: the name is in conflict
	nbWorkstation  = 0x00   // suffix of the machine and workgroup names
	nbServer       = 0x20   // suffix of the file server service
)

// nbstatName is the question name "*" padded with NULs, first-level
// encoded (RFC 1001 section 14.1): 32 letters in one label.
var nbstatName = "\x20CK" + strings.Repeat("A", 30) + "\x00"

// nbstatQuery returns a node status request with transaction ID id.
func nbstatQuery(id uint16) []byte {
	b := make([]byte, 12, 12+len(nbstatName)+4)
	binary.BigEndian.PutUint16(b[0:], id)
	binary.BigEndian.PutUint16(b[4:], 1) // one question
	b = append(b, nbstatName...)
	return binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(b, nbstatType), nbClassIN)
}

// nbstat is what a node status response says.
type nbstat struct {
	name      string // machine name, lower case
	workgroup string
}

var errShort = errors.New("truncated")

// parseNBSTAT reads a node status response to the request with
// transaction ID id. The machine name is the first unique, active
// workstation (<00>) name, else the first unique server (<20>) name; the
// workgroup is the first group <00> name. Names are trimmed of padding;
// entries with bytes outside printable ASCII are skipped.
func parseNBSTAT(b []byte, id uint16) (nbstat, error) {
	var st nbstat
	if len(b) < 12 {
		return st, errShort
	}
	h := binary.BigEndian
	flags := h.Uint16(b[2:])
	switch {
	case h.Uint16(b[0:]) != id:
		return st, fmt.Errorf("transaction ID %#04x, want %#04x", h.Uint16(b[0:]), id)
	case flags&nbFlagResponse == 0:
		return st, errors.New("not a response")
	case flags&0x7800 != 0: // opcode: 0 is a query
		return st, fmt.Errorf("opcode %d", flags>>11&0xf)
	case flags&0xf != 0:
		return st, fmt.Errorf("rcode %d", flags&0xf)
	case h.Uint16(b[6:]) == 0:
		return st, errors.New("no answer")
	}
	off := 12
	for range h.Uint16(b[4:]) { // questions, which responses normally omit
		var err error
		if off, err = skipName(b, off); err != nil {
			return st, err
		}
		off += 4
	}
	rdata, err := nbstatRData(b, off)
	if err != nil {
		return st, err
	}
	return nbstatNames(rdata)
}

// nbstatRData returns the RDATA of the NBSTAT resource record at off.
func nbstatRData(b []byte, off int) ([]byte, error) {
	off, err := skipName(b, off)
	if err != nil {
		return nil, err
	}
	if off+10 > len(b) {
		return nil, errShort
	}
	h := binary.BigEndian
	if typ, class := h.Uint16(b[off:]), h.Uint16(b[off+2:]); typ != nbstatType || class != nbClassIN {
		return nil, fmt.Errorf("record type %d class %d, want NBSTAT", typ, class)
	}
	n := int(h.Uint16(b[off+8:]))
	off += 10
	if off+n > len(b) {
		return nil, errShort
	}
	return b[off : off+n], nil
}

// nbstatNames reads the node name array of an NBSTAT RDATA; the statistics
// after it are ignored.
func nbstatNames(rdata []byte) (nbstat, error) {
	var st nbstat
	if len(rdata) < 1 {
		return st, errShort
	}
	n := int(rdata[0])
	if 1+n*nbEntryLen > len(rdata) {
		return st, errShort
	}
	var server string
	for i := range n {
		e := rdata[1+i*nbEntryLen : 1+(i+1)*nbEntryLen]
		name, ok := nbName(e[:nbNameLen])
		flags := binary.BigEndian.Uint16(e[16:])
		if !ok || flags&(nbDeregister|nbConflict) != 0 {
			continue
		}
		group := flags&nbGroup != 0
		switch suffix := e[nbNameLen]; {
		case group && suffix == nbWorkstation && st.workgroup == "":
			st.workgroup = name
		case !group && suffix == nbWorkstation && st.name == "":
			st.name = strings.ToLower(name)
		case !group && suffix == nbServer && server == "":
			server = strings.ToLower(name)
		}
	}
	if st.name == "" {
		st.name = server
	}
	if st.name == "" {
		return st, errors.New("no machine name")
	}
	return st, nil
}

// nbName returns a NetBIOS name without its space (or NUL) padding, and
// false when it is empty or holds a byte outside printable ASCII.
func nbName(b []byte) (string, bool) {
	s := strings.TrimRight(string(b), " \x00")
	if s == "" {
		return "", false
	}
	for i := range len(s) {
		if s[i] < 0x21 && s[i] != ' ' || s[i] > 0x7e {
			return "", false
		}
	}
	return s, true
}

// skipName returns the offset after the domain name at off: labels ending
// in a zero byte, or in a compression pointer.
func skipName(b []byte, off int) (int, error) {
	for {
		if off >= len(b) {
			return 0, errShort
		}
		l := int(b[off])
		switch {
		case l == 0:
			return off + 1, nil
		case l&0xc0 == 0xc0:
			if off+2 > len(b) {
				return 0, errShort
			}
			return off + 2, nil
		case l&0xc0 != 0:
			return 0, fmt.Errorf("bad label length %#x", l)
		}
		off += 1 + l
	}
}
