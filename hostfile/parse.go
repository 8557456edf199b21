package hostfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ParseOptions controls Parse and ReadFile. A nil *ParseOptions is the
// zero value: detect the format and stop at the first bad line.
type ParseOptions struct {
	// Format is the format of the input; Auto (the zero value) detects it
	// from the content.
	Format Format

	// Lenient skips bad lines instead of failing. Parse then returns the
	// good hosts together with an error joining (errors.Join) one
	// *ParseError per skipped line (the first 100, then a count), so
	// callers can print them as warnings and go on.
	Lenient bool
}

// A ParseError reports a bad line of a hostfile.
type ParseError struct {
	File string // the name given to Parse, or the path given to ReadFile
	Line int    // 1-based line number
	Msg  string // what is wrong, e.g. `bad address "321.321.321.321"`
}

// Error returns a message like
// `hostfile ~/.hosts line 3: bad address "321.321.321.321"`.
func (e *ParseError) Error() string {
	if e.File == "" {
		return fmt.Sprintf("hostfile line %d: %s", e.Line, e.Msg)
	}
	return fmt.Sprintf("hostfile %s line %d: %s", e.File, e.Line, e.Msg)
}

// maxQuoted is how many bytes of a field an error message shows.
const maxQuoted = 64

// quote returns s for an error message: quoted with control characters
// escaped (%q), and cut to maxQuoted bytes followed by "..." when longer,
// so that a hostile 5 MB field does not fill the terminal.
func quote(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	return strconv.Quote(cutAt(s, maxQuoted)) + "..."
}

// clip cuts text that is already quoted or escaped, such as an error
// message of encoding/json, to n bytes followed by "..." when longer.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return cutAt(s, n) + "..."
}

// cutAt returns at most n bytes of s, not splitting a UTF-8 character.
func cutAt(s string, n int) string {
	for n > 0 && n < len(s) && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Parse reads hosts from r. The name (usually a path) is used in errors
// only.
//
// Hosts are returned in file order. When opt.Lenient is false the first bad
// line stops parsing and Parse returns nil and a *ParseError. When
// opt.Lenient is true bad lines are skipped, and Parse returns the other
// hosts together with an error that joins one *ParseError per bad line
// (use errors.As, or the Unwrap() []error method, to list them), the
// first 100 of them and then one error counting the others; the error
// is nil when every line was good. More than 262,144 hosts is an error in
// both modes, like input over 64 MiB. Errors reading r are returned as they
// are, in both modes. A JSON syntax error cannot be skipped and fails in
// both modes.
func Parse(r io.Reader, name string, opt *ParseOptions) ([]Host, error) {
	var size int64
	if l, ok := r.(interface{ Len() int }); ok { // bytes.Reader, strings.Reader
		size = int64(l.Len())
	}
	data, err := readAtMost(r, name, size)
	if err != nil {
		return nil, err
	}
	return parse(data, name, opt)
}

// parse is Parse of data read in full.
func parse(data []byte, name string, opt *ParseOptions) ([]Host, error) {
	if opt == nil {
		opt = new(ParseOptions)
	}
	f := opt.Format
	if f == Auto {
		f = detect(data)
		if f == Auto {
			return nil, nil // nothing but blank lines and comments
		}
	}
	p := &parser{file: name, lenient: opt.Lenient}
	var hosts []Host
	switch f {
	case Hosts:
		hosts = parseHosts(p, data)
	case Erlang:
		hosts = parseErlang(p, data)
	case Plain:
		hosts = parsePlain(p, data)
	case JSON:
		hosts = parseJSON(p, data)
	default:
		return nil, fmt.Errorf("hostfile: unknown format %v", f)
	}
	if p.fatal != nil {
		return nil, p.fatal
	}
	return hosts, p.joined()
}

// Bounds on what one Parse keeps, since a host or an error costs far
// more memory than the bytes of its line: maxHosts is four /16 networks
// of hosts (a variable for tests); past maxErrors bad lines, the rest are
// only counted.
var maxHosts = 1 << 18

const maxErrors = 100

// A parser collects the errors of one Parse call.
type parser struct {
	file    string
	lenient bool
	hosts   int     // hosts parsed so far
	errs    []error // bad lines skipped in lenient mode
	more    int     // bad lines skipped past maxErrors
	fatal   error   // the error that stopped parsing
}

// fail records a bad line and reports whether parsing may go on.
func (p *parser) fail(line int, format string, args ...any) bool {
	if p.lenient && len(p.errs) >= maxErrors {
		p.more++
		return true
	}
	err := &ParseError{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)}
	if !p.lenient {
		p.fatal = err
		return false
	}
	p.errs = append(p.errs, err)
	return true
}

// room counts a host about to be added at line and reports whether it
// fits; past maxHosts parsing stops with an error.
func (p *parser) room(line int) bool {
	if p.hosts++; p.hosts <= maxHosts {
		return true
	}
	p.stop(line, "more than %d hosts: it is no hostfile, check the path", maxHosts)
	return false
}

// joined returns the errors of the bad lines skipped, nil if none.
func (p *parser) joined() error {
	errs := p.errs
	if p.more > 0 {
		errs = append(errs, unlistedError{p.file, p.more})
	}
	return errors.Join(errs...)
}

// unlistedError stands for the bad lines past maxErrors. Unlisted
// reports how many there were, so that a summary can count them.
type unlistedError struct {
	file string
	n    int
}

func (e unlistedError) Error() string {
	return fmt.Sprintf("hostfile %s: %d more bad lines not listed", e.file, e.n)
}

func (e unlistedError) Unlisted() int { return e.n }

// stop records an error that no mode can skip.
func (p *parser) stop(line int, format string, args ...any) {
	p.fatal = &ParseError{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// eachLine calls fn with each line of data, without its line ending, and
// its 1-based number. It stops early when fn returns false.
func eachLine(data []byte, fn func(n int, line string) bool) {
	n := 0
	for l := range bytes.Lines(data) {
		n++
		s := strings.TrimSuffix(strings.TrimSuffix(string(l), "\n"), "\r")
		if !fn(n, s) {
			return
		}
	}
}

// eachEntry calls fn with the fields of each line of data that holds any
// once its '#' comment is cut, and the line's 1-based number. It stops
// early when fn returns false.
func eachEntry(data []byte, fn func(n int, f []string) bool) {
	eachLine(data, func(n int, line string) bool {
		line, _, _ = strings.Cut(line, "#")
		f := strings.Fields(line)
		return len(f) == 0 || fn(n, f)
	})
}

// lineAt returns the 1-based number of the line holding data[off].
func lineAt(data []byte, off int64) int {
	off = min(max(off, 0), int64(len(data)))
	return 1 + bytes.Count(data[:off], []byte("\n"))
}

// A lineCounter returns line numbers of increasing offsets in data,
// counting each newline once, where lineAt would count from the start
// every time (quadratic over a file).
type lineCounter struct {
	data []byte
	off  int64 // offset counted up to
	line int   // newlines before off
}

// at returns the 1-based number of the line holding data[off].
func (c *lineCounter) at(off int64) int {
	off = min(max(off, 0), int64(len(c.data)))
	if off < c.off {
		c.off, c.line = 0, 0
	}
	c.line += bytes.Count(c.data[c.off:off], []byte("\n"))
	c.off = off
	return 1 + c.line
}
