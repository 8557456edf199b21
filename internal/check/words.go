package check

import (
	"errors"
	"fmt"
	"strings"
)

// shellSpecial are the bytes that sh would interpret outside quotes:
// operators, expansions and globs. splitWords rejects them unquoted rather
// than pass them on literally, so that a command never silently means
// something other than what the same words typed into sh would.
const shellSpecial = "|&;<>()$`*?[\n"

// errNeedShell is wrapped by splitWords errors about shell syntax.
var errNeedShell = errors.New("exec checks run without a shell: quote it, or write exec:sh -c '...'")

// splitWords splits an exec check's command line into argv the way sh
// splits a simple command, without running a shell: words are separated by
// blanks; '...' is literal; inside "..." a backslash escapes only " \ $ `
// and newline; outside quotes a backslash escapes any byte. Unquoted
// operators, expansions and globs (| & ; < > ( ) $ ` * ? [ and newline), a
// word starting with an unquoted ~ or #, and $ or ` inside double quotes are
// errors, as are unterminated quotes and NUL bytes.
func splitWords(s string) ([]string, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return nil, errors.New("contains a NUL byte")
	}
	var (
		words  []string
		cur    strings.Builder
		inWord bool
	)
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
			i++
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, errors.New("unterminated single quote")
			}
			cur.WriteString(s[i+1 : i+1+end])
			inWord = true
			i += end + 2
		case c == '"':
			n, err := doubleQuoted(s[i+1:], &cur)
			if err != nil {
				return nil, err
			}
			inWord = true
			i += n + 1
		case c == '\\':
			if i+1 == len(s) {
				return nil, errors.New("trailing backslash")
			}
			if s[i+1] != '\n' { // backslash-newline is a line continuation
				cur.WriteByte(s[i+1])
				inWord = true
			}
			i += 2
		case strings.IndexByte(shellSpecial, c) >= 0,
			!inWord && (c == '~' || c == '#'):
			return nil, fmt.Errorf("unquoted %q: %w", c, errNeedShell)
		default:
			cur.WriteByte(c)
			inWord = true
			i++
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// doubleQuoted copies the inside of a double-quoted string from s (which
// starts after the opening quote) to b and returns how many bytes of s it
// used, including the closing quote.
func doubleQuoted(s string, b *strings.Builder) (int, error) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return i + 1, nil
		case '$', '`':
			return 0, fmt.Errorf("%q inside double quotes: %w", c, errNeedShell)
		case '\\':
			if i+1 < len(s) && strings.IndexByte("\"\\$`\n", s[i+1]) >= 0 {
				if s[i+1] != '\n' {
					b.WriteByte(s[i+1])
				}
				i++
				continue
			}
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return 0, errors.New("unterminated double quote")
}
