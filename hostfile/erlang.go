package hostfile

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"
)

// parseErlang reads a .hosts.erlang file the way Erlang's file:consult/1
// does, accepting only atoms: quoted ('192.0.2.1', 'app@host') or bare
// (myhost), each followed by a full stop, with '%' comments and any white
// space between terms. An atom with '@' is a node "name@host", any other
// an address or host name.
//
// In lenient mode a bad term skips the rest of its line.
func parseErlang(p *parser, data []byte) []Host {
	s := &erlScanner{src: string(data), line: 1}
	var hosts []Host
	for {
		s.skipSpace()
		if s.pos >= len(s.src) {
			return hosts
		}
		start, line := s.pos, s.line
		atom, errLine, msg := s.term()
		if msg == "" {
			var h Host
			if h, msg = erlangHost(atom); msg == "" {
				if !p.room(line) {
					return nil
				}
				hosts = append(hosts, h)
				continue
			}
			errLine = line
		}
		if !p.fail(errLine, "%s", msg) {
			return nil
		}
		s.pos, s.line = start, line
		s.skipLine()
	}
}

// erlangHost returns the Host of one atom of a .hosts.erlang file.
func erlangHost(atom string) (Host, string) {
	if strings.Contains(atom, "@") {
		if msg := checkNode(atom); msg != "" {
			return Host{}, msg
		}
		return nodeEntry(atom), ""
	}
	if a, err := netip.ParseAddr(atom); err == nil {
		if z := a.Zone(); z != "" && !isNameText(z) {
			return Host{}, "bad zone in address " + quote(atom)
		}
		return Host{Addr: a}, ""
	}
	if msg := checkName(atom); msg != "" {
		return Host{}, msg
	}
	return Host{Names: []string{atom}}, ""
}

// erlScanner scans the few tokens of Erlang's term syntax that a
// .hosts.erlang file of atoms uses.
type erlScanner struct {
	src  string
	pos  int
	line int
}

func (s *erlScanner) peek() byte {
	if s.pos < len(s.src) {
		return s.src[s.pos]
	}
	return 0
}

// peekRune returns the next character, or -1 at the end.
func (s *erlScanner) peekRune() rune {
	if s.pos >= len(s.src) {
		return -1
	}
	r, _ := utf8.DecodeRuneInString(s.src[s.pos:])
	return r
}

// next returns the next character and advances past it, counting lines. It
// returns utf8.RuneError for invalid UTF-8 and -1 at the end.
func (s *erlScanner) next() rune {
	if s.pos >= len(s.src) {
		return -1
	}
	r, n := utf8.DecodeRuneInString(s.src[s.pos:])
	s.pos += n
	if r == '\n' {
		s.line++
	}
	return r
}

// skipSpace skips white space and '%' comments.
func (s *erlScanner) skipSpace() {
	for s.pos < len(s.src) {
		switch r := s.peekRune(); {
		case r == '%':
			s.skipLine()
		case isErlSpace(r):
			s.next()
		default:
			return
		}
	}
}

// skipLine skips to the start of the next line.
func (s *erlScanner) skipLine() {
	for r := s.next(); r != '\n' && r != -1; r = s.next() {
	}
}

// isErlSpace reports whether erl_scan takes r for white space: any
// character up to ' ', and the Latin-1 ones from 0x80 to 0xA0.
func isErlSpace(r rune) bool { return r >= 0 && r <= ' ' || r >= 0x80 && r <= 0xA0 }

// isErlLower reports whether an unquoted atom may start with r.
func isErlLower(r rune) bool { return r >= 'a' && r <= 'z' || r >= 0xDF && r <= 0xFF && r != 0xF7 }

// term scans one atom and the full stop after it. On failure it returns
// the line of the problem and a message.
func (s *erlScanner) term() (atom string, line int, msg string) {
	switch r := s.peekRune(); {
	case r == '\'':
		start := s.line
		s.next()
		if atom, msg = s.quoted(); msg != "" {
			return "", start, msg
		}
	case isErlLower(r):
		if atom = s.bare(); erlReserved[atom] {
			return "", s.line, fmt.Sprintf("reserved word %s: quote it to make an atom", quote(atom))
		}
	default:
		return "", s.line, fmt.Sprintf("unsupported term starting with %q: want an atom", r)
	}
	if utf8.RuneCountInString(atom) > maxAtom {
		return "", s.line, tooLong(atom)
	}
	s.skipSpace()
	// A full stop ends a term only when white space, a comment or the
	// end of the file follows it.
	if s.peek() != '.' {
		return "", s.line, fmt.Sprintf("missing full stop after %s", clip(quoteAtom(atom), maxQuoted))
	}
	s.next()
	if r := s.peekRune(); r != -1 && !isErlSpace(r) && r != '%' {
		return "", s.line, fmt.Sprintf("missing white space after full stop after %s", clip(quoteAtom(atom), maxQuoted))
	}
	return atom, 0, ""
}

// bare scans an unquoted atom: a lower-case letter, then letters,
// digits, '_' and '@', where letters include Latin-1 ones.
func (s *erlScanner) bare() string {
	start := s.pos
	first := true
	for s.pos < len(s.src) {
		r, n := utf8.DecodeRuneInString(s.src[s.pos:])
		lower := isErlLower(r)
		other := r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '@' ||
			r >= 0xC0 && r <= 0xDE && r != 0xD7
		if !lower && !(other && !first) {
			break
		}
		first = false
		s.pos += n
	}
	return s.src[start:s.pos]
}

// erlReserved are Erlang's reserved words.
var erlReserved = map[string]bool{
	"after": true, "and": true, "andalso": true, "band": true, "begin": true,
	"bnot": true, "bor": true, "bsl": true, "bsr": true, "bxor": true,
	"case": true, "catch": true, "cond": true, "div": true, "end": true,
	"fun": true, "if": true, "let": true, "not": true, "of": true, "or": true,
	"orelse": true, "receive": true, "rem": true, "try": true, "when": true,
	"xor": true,
}

// quoted scans the rest of a quoted atom after its opening quote,
// resolving escape sequences as erl_scan does. It gives up past maxAtom
// characters, so that a lenient parse of many unterminated atoms stays
// linear.
func (s *erlScanner) quoted() (atom, msg string) {
	const bad = "unterminated quoted atom or bad escape sequence"
	var b strings.Builder
	for n := 0; n <= maxAtom; n++ {
		r := s.next()
		switch r {
		case -1:
			return "", bad
		case '\'':
			return b.String(), ""
		case '\\':
			e, ok := s.escape()
			if !ok {
				return "", bad
			}
			b.WriteRune(e)
		default:
			b.WriteRune(r)
		}
	}
	return "", tooLong(b.String())
}

// tooLong is the message for an atom longer than maxAtom characters.
func tooLong(atom string) string {
	return fmt.Sprintf("atom %s longer than %d characters", quote(atom), maxAtom)
}

// maxHexEscape bounds the search for the '}' of \x{...}: the largest
// character, \x{10FFFF}, has six digits; allow leading zeros.
const maxHexEscape = 16

// escape scans an escape sequence after its backslash.
func (s *erlScanner) escape() (rune, bool) {
	r := s.next()
	switch r {
	case -1:
		return 0, false
	case 'b':
		return '\b', true
	case 'd':
		return 0x7f, true
	case 'e':
		return 0x1b, true
	case 'f':
		return '\f', true
	case 'n':
		return '\n', true
	case 'r':
		return '\r', true
	case 's':
		return ' ', true
	case 't':
		return '\t', true
	case 'v':
		return '\v', true
	case '^':
		c := s.next()
		if c == -1 {
			return 0, false
		}
		return c & 31, true
	case 'x':
		if s.peek() == '{' {
			s.next()
			end := strings.IndexByte(s.src[s.pos:min(s.pos+maxHexEscape, len(s.src))], '}')
			if end < 1 {
				return 0, false
			}
			v, err := strconv.ParseUint(s.src[s.pos:s.pos+end], 16, 32)
			if err != nil || v > utf8.MaxRune || !utf8.ValidRune(rune(v)) {
				return 0, false
			}
			s.pos += end + 1
			return rune(v), true
		}
		if s.pos+2 > len(s.src) {
			return 0, false
		}
		v, err := strconv.ParseUint(s.src[s.pos:s.pos+2], 16, 8)
		if err != nil {
			return 0, false
		}
		s.pos += 2
		return rune(v), true
	}
	if r >= '0' && r <= '7' {
		v := r - '0'
		for i := 0; i < 2 && s.peek() >= '0' && s.peek() <= '7'; i++ {
			v = v*8 + rune(s.next()-'0')
		}
		return v, true
	}
	return r, true // any other character stands for itself
}

// quoteAtom returns s as a quoted Erlang atom: in single quotes, with '
// and \ escaped by a backslash and control characters as \x{HH}.
func quoteAtom(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range s {
		switch {
		case r == '\'' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r >= 0x7f && r < 0xa0:
			fmt.Fprintf(&b, `\x{%X}`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// writeErlang writes one quoted atom per host: its node if it has one,
// else its address, else its first name.
func writeErlang(w *bytes.Buffer, hosts []Host) error {
	return writeLines(w, "%", hosts, func(h Host) (string, error) {
		var atom string
		switch {
		case h.Node != "":
			atom = h.Node
		case h.Addr.IsValid():
			atom = h.Addr.String()
		case len(h.Names) > 0:
			atom = h.Names[0]
		default:
			return "", nil
		}
		if utf8.RuneCountInString(atom) > maxAtom {
			return "", fmt.Errorf("hostfile: host %s: Erlang atom %s longer than %d characters", h.label(), quote(atom), maxAtom)
		}
		return quoteAtom(atom) + ".", nil
	})
}
