package sdjoincmd

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/ipfinder-go/ipfinder/tracker"
)

// Events of the agent's output and of watch.
const (
	evJoin        = "join"
	evLeave       = "leave"
	evRename      = "rename"
	evMemberJoin  = "member-join"
	evMemberLeave = "member-leave"
)

// record is an entry (list, pick), a member (members) or, with Event set,
// an event (agent output, watch). It is the JSON of the control protocol
// and of --json output.
type record struct {
	Event    string            `json:"event,omitempty"`
	Service  string            `json:"service,omitempty"`
	Key      string            `json:"key,omitempty"`
	Node     string            `json:"node"`
	Addr     netip.AddrPort    `json:"addr,omitzero"`
	Meta     map[string]string `json:"meta,omitzero"`
	PrevNode string            `json:"prev_node,omitempty"`
	Local    bool              `json:"local,omitempty"`
	// State is a member's ("alive"), or the state of one of this node's
	// entries (list --local; see check.State).
	State  string        `json:"state,omitempty"`
	Checks []checkRecord `json:"checks,omitempty"`
}

// checkRecord is one check of an entry of this node (list --local).
type checkRecord struct {
	Check  string    `json:"check"` // the spec, its URL's userinfo redacted
	State  string    `json:"state"`
	Output string    `json:"output,omitempty"`
	Time   time.Time `json:"time,omitzero"`
}

func entryRecord(p tracker.Presence) record {
	meta := p.Meta
	if meta == nil {
		meta = map[string]string{}
	}
	return record{Service: p.Service, Key: p.Key, Node: p.Node, Addr: p.Addr, Meta: meta, PrevNode: p.PrevNode, Local: p.Local}
}

func eventRecord(event string, p tracker.Presence) record {
	r := entryRecord(p)
	r.Event = event
	return r
}

func memberRecord(m tracker.Member) record {
	return record{Node: m.Name, Addr: m.Addr, PrevNode: m.PrevName, Local: m.Local, State: m.State.String()}
}

// metaText formats meta as a compact JSON object with sorted keys, with
// every control or non-printable character escaped.
func metaText(m map[string]string) string {
	if len(m) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(m)
	return string(escapeJSON(b))
}

// text formats an event as one readable line (without newline). Names
// and meta come from the network: they are escaped (see safe), so one
// event is always one line with no control characters.
func (r record) text() string {
	switch r.Event {
	case evJoin:
		return fmt.Sprintf("join %s %s %s %s", safe(r.Service), safe(r.Node), r.Addr, metaText(r.Meta))
	case evLeave:
		return fmt.Sprintf("leave %s %s", safe(r.Service), safe(r.Node))
	case evRename:
		return fmt.Sprintf("rename %s -> %s", safe(r.PrevNode), safe(r.Node))
	case evMemberJoin:
		return fmt.Sprintf("member-join %s %s", safe(r.Node), r.Addr)
	case evMemberLeave:
		return fmt.Sprintf("member-leave %s", safe(r.Node))
	}
	return fmt.Sprintf("%s %s %s %s %s", safe(r.Event), safe(r.Service), safe(r.Node), r.Addr, metaText(r.Meta))
}

// writeRecord writes r as one line: JSON or readable.
func writeRecord(w io.Writer, r record, asJSON bool) error {
	if asJSON {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		_, err = w.Write(append(escapeJSON(b), '\n'))
		return err
	}
	_, err := io.WriteString(w, r.text()+"\n")
	return err
}

// entryText formats an entry as "SERVICE NODE ADDR META".
func entryText(r record) string {
	return strings.Join([]string{safe(r.Service), safe(r.Node), r.Addr.String(), metaText(r.Meta)}, " ")
}

// safe returns s as is when it is valid UTF-8 made of printable
// characters other than space, else quoted with Go escapes
// ("a\nb", "\x1b[2J"): a name received from the network can then neither
// split a line, forge another one, nor drive the terminal.
func safe(s string) string {
	if s != "" && plain(s) {
		return s
	}
	return strconv.Quote(s)
}

// printable returns s with every control or non-printable rune, and
// invalid UTF-8, escaped as Go does in quoted strings.
func printable(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r == utf8.RuneError || !strconv.IsPrint(r) }) {
		return s
	}
	var b strings.Builder
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		if r == utf8.RuneError || !strconv.IsPrint(r) {
			q := strconv.Quote(s[:n])
			b.WriteString(q[1 : len(q)-1])
		} else {
			b.WriteString(s[:n])
		}
		s = s[n:]
	}
	return b.String()
}

// plain reports whether s is valid UTF-8 of printable runes other than
// space, the double quote and the backslash.
func plain(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || r == ' ' || r == '"' || r == '\\' || !strconv.IsPrint(r) {
			return false
		}
	}
	return true
}

// escapeJSON escapes, in JSON encoded by encoding/json, the runes it
// leaves raw but a terminal may act on: DEL, C1 controls and other
// non-printable runes (json already escapes those below 0x20 and turns
// invalid UTF-8 into U+FFFD). Outside strings JSON holds only ASCII
// printables, so only string content changes.
func escapeJSON(b []byte) []byte {
	if !hasUnprintable(b) {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	for _, r := range string(b) {
		switch {
		case !unprintable(r):
			out = utf8.AppendRune(out, r)
		case r > 0xffff: // a surrogate pair, as JSON wants
			r1, r2 := utf16.EncodeRune(r)
			out = fmt.Appendf(out, `\u%04x\u%04x`, r1, r2)
		default:
			out = fmt.Appendf(out, `\u%04x`, r)
		}
	}
	return out
}

func hasUnprintable(b []byte) bool {
	for _, r := range string(b) {
		if unprintable(r) {
			return true
		}
	}
	return false
}

// unprintable reports a rune escapeJSON escapes.
func unprintable(r rune) bool { return r >= 0x7f && !strconv.IsPrint(r) }
