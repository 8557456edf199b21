package check

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxOutput bounds Result.Output and CheckStatus.Output, in bytes.
const MaxOutput = 4096

// clean makes check output safe to display on one line: trailing line
// breaks are dropped, every byte that is not a printable UTF-8 character
// or a space is escaped Go-style (\n, \t, \x1b, \u202e), and the result is
// cut to MaxOutput bytes, ending in "..." when cut. Clean output is
// unchanged by clean.
func clean(s string) string {
	return cutEnd(escapeAll(s, MaxOutput+1), MaxOutput)
}

// cleanTail is clean, but keeps the end of s within max bytes, starting
// with "..." when cut.
func cleanTail(s string, max int) string {
	out := escapeAll(s, -1)
	if len(out) <= max {
		return out
	}
	cut := len(out) - (max - len("..."))
	for cut < len(out) && !utf8.RuneStart(out[cut]) {
		cut++
	}
	return "..." + out[cut:]
}

// prefixed returns "prefix: out", cleaned, within MaxOutput bytes: a long
// out loses its beginning, which for command output matters least.
func prefixed(prefix, out string) string {
	p := cutEnd(escapeAll(prefix, MaxOutput/2+1), MaxOutput/2)
	if out == "" {
		return p
	}
	return p + ": " + cleanTail(out, MaxOutput-len(p)-len(": "))
}

// escapeAll escapes s without its trailing line breaks, stopping once the
// result is longer than limit bytes (if limit >= 0).
func escapeAll(s string, limit int) string {
	s = strings.TrimRight(s, "\r\n")
	var b strings.Builder
	for len(s) > 0 && (limit < 0 || b.Len() <= limit) {
		r, size := utf8.DecodeRuneInString(s)
		escape(&b, r, s[:size])
		s = s[size:]
	}
	return b.String()
}

// cutEnd cuts s to max bytes, ending in "..." when cut.
func cutEnd(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max - len("...")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// escape writes r, whose encoding in the input is raw, to b.
func escape(b *strings.Builder, r rune, raw string) {
	switch {
	case r == utf8.RuneError && len(raw) == 1:
		fmt.Fprintf(b, `\x%02x`, raw[0])
	case r == '\n':
		b.WriteString(`\n`)
	case r == '\t':
		b.WriteString(`\t`)
	case r == '\r':
		b.WriteString(`\r`)
	case r == ' ' || unicode.IsPrint(r):
		b.WriteString(raw)
	case r < 0x80:
		fmt.Fprintf(b, `\x%02x`, r)
	case r <= 0xffff:
		fmt.Fprintf(b, `\u%04x`, r)
	default:
		fmt.Fprintf(b, `\U%08x`, r)
	}
}

// tailBuffer is an io.Writer that keeps the last MaxOutput bytes written.
type tailBuffer struct {
	buf  []byte
	lost bool
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - MaxOutput; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
		t.lost = true
	}
	return n, nil
}

// String returns the kept bytes, starting with "..." if earlier ones were
// dropped (and with no partial UTF-8 character after it).
func (t *tailBuffer) String() string {
	if !t.lost {
		return string(t.buf)
	}
	b := t.buf
	for i := 0; i < utf8.UTFMax && len(b) > 0 && !utf8.RuneStart(b[0]); i++ {
		b = b[1:]
	}
	return "..." + string(b)
}
