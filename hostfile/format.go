package hostfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
)

// A Format is one of the hostfile formats.
type Format int

// The formats. Auto is only meaningful for parsing, where it detects the
// format from the content, and for WriteFile, where it keeps the format of
// the existing file.
const (
	Auto   Format = iota // detect from content (Parse) or keep the existing file's (WriteFile)
	Hosts                // hosts(5): "IP canonical-name [aliases...]"
	Erlang               // .hosts.erlang: one quoted atom per line, "'192.0.2.1'."
	Plain                // one host per line: address, name, host:port, [v6]:port or name@host
	JSON                 // a JSON array of objects; see the package documentation
)

var formatNames = [...]string{
	Auto:   "auto",
	Hosts:  "hosts",
	Erlang: "erlang",
	Plain:  "plain",
	JSON:   "json",
}

// String returns the format's name as ParseFormat accepts it: "auto",
// "hosts", "erlang", "plain" or "json".
func (f Format) String() string {
	if f >= 0 && int(f) < len(formatNames) {
		return formatNames[f]
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// ParseFormat returns the Format named s ("auto", "hosts", "erlang",
// "plain" or "json", in any case).
func ParseFormat(s string) (Format, error) {
	for f, name := range formatNames {
		if strings.EqualFold(s, name) {
			return Format(f), nil
		}
	}
	return Auto, fmt.Errorf("hostfile: unknown format %q (want hosts, erlang, plain, json or auto)", s)
}

// Write writes hosts to w in format f, which must not be Auto.
//
// The output is deterministic: hosts are sorted (see the package
// documentation), so the same hosts give byte-identical output whatever
// their order in the slice. The slice itself is not modified. A host that
// format f cannot represent at all (a hosts(5) line needs an address and a
// name) is left out; a host with a field that would corrupt the file (a
// name with spaces, an Erlang atom over 255 characters) is an error and
// nothing is written.
func Write(w io.Writer, f Format, hosts []Host) error {
	var buf bytes.Buffer
	var err error
	sorted := sortedHosts(hosts)
	switch f {
	case Hosts:
		err = writeHosts(&buf, sorted)
	case Erlang:
		err = writeErlang(&buf, sorted)
	case Plain:
		err = writePlain(&buf, sorted)
	case JSON:
		err = writeJSON(&buf, sorted)
	case Auto:
		return errors.New("hostfile: Write needs a format, not auto")
	default:
		return fmt.Errorf("hostfile: unknown format %v", f)
	}
	if err != nil {
		return err
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// header is the first line of files written in the line formats, after the
// format's comment marker. It carries no timestamp so that rewriting the
// same hosts gives the same bytes.
const header = " Written by ipfinder (github.com/ipfinder-go/ipfinder/hostfile); edits are overwritten."

// writeLines writes the header as a comment that starts with mark, then
// the line line makes of each host, checked first; a host it makes ""
// of is left out.
func writeLines(w *bytes.Buffer, mark string, hosts []Host, line func(Host) (string, error)) error {
	w.WriteString(mark + header + "\n")
	for _, h := range hosts {
		if err := h.check(); err != nil {
			return err
		}
		s, err := line(h)
		if err != nil {
			return err
		}
		if s != "" {
			w.WriteString(s + "\n")
		}
	}
	return nil
}

// detect guesses the format of data from its first entry. It returns Auto
// when data holds no entry (empty, or only comments that do not tell).
//
// A '#' comment, before or after the first entry, rules out Erlang and
// JSON, which have none: what follows is hosts(5) or plain. Otherwise '['
// starts JSON, unless an IPv6 address follows it ("[2001:db8::1]:7946" is
// plain); a '%' comment or an entry that starts with a quote is Erlang.
// Then an entry of two or more fields whose first is an address is
// hosts(5); an entry that ends with a full stop is Erlang, any other of
// several fields hosts(5), and a single field plain.
func detect(data []byte) Format {
	f := Auto
	hashed := false // a '#' comment was seen
	eachLine(data, func(_ int, line string) bool {
		line = strings.TrimSpace(line)
		switch {
		case line == "":
			return true
		case strings.HasPrefix(line, "#"):
			hashed = true
			return true
		case hashed:
		case strings.HasPrefix(line, "["):
			if !bracketedIPv6(line) {
				f = JSON
				return false
			}
		case strings.HasPrefix(line, "%"), strings.HasPrefix(line, "'"):
			f = Erlang
			return false
		}
		f = entryFormat(line, !hashed)
		return false
	})
	return f
}

// bracketedIPv6 reports whether line, which starts with '[', goes on like
// "[2001:db8::1]:7946" rather than like a JSON array.
func bracketedIPv6(line string) bool {
	if len(line) < 2 {
		return false
	}
	c := line[1]
	return c == ':' || '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// entryFormat tells hosts(5), plain and, when erlang is true, Erlang apart
// by the first entry of a file.
func entryFormat(line string, erlang bool) Format {
	entry, _, comment := strings.Cut(line, "#")
	entry = strings.TrimSpace(entry)
	fields := strings.Fields(entry)
	_, err := netip.ParseAddr(fields[0])
	switch {
	case len(fields) >= 2 && err == nil:
		return Hosts
	case erlang && !comment && strings.HasSuffix(entry, "."):
		return Erlang
	case len(fields) >= 2:
		return Hosts
	}
	return Plain
}
