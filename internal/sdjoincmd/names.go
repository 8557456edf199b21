package sdjoincmd

import (
	"strconv"
	"unicode/utf8"

	"github.com/ipfinder-go/ipfinder/internal/cliutil"
	"github.com/ipfinder-go/ipfinder/tracker"
)

// checkText refuses a service name, meta key or meta value that is not
// valid UTF-8 or holds a control or other non-printable character (a
// newline would forge an output line on every peer, an ESC drive their
// terminals). what names it in the error ("service", "--meta key").
func checkText(what, s string) error {
	if !utf8.ValidString(s) {
		return cliutil.Usagef("bad %s %q: not valid UTF-8", what, s)
	}
	for _, r := range s {
		if r != ' ' && !strconv.IsPrint(r) {
			return cliutil.Usagef("bad %s %q: control or non-printable character %U", what, s, r)
		}
	}
	return nil
}

// checkService checks a service name given on the command line or the
// control socket.
func checkService(s string) error {
	if s == "" {
		return cliutil.Usagef("empty service name")
	}
	if len(s) > tracker.MaxNameLen {
		return cliutil.Usagef("bad service %.20q...: %d bytes, limit %d", s, len(s), tracker.MaxNameLen)
	}
	return checkText("service", s)
}

// checkMeta checks the keys and values of an entry's meta and its size
// (as tracker.MaxMetaLen counts it).
func checkMeta(service string, m map[string]string) error {
	n := 1
	for k, v := range m {
		if err := checkText("--meta key", k); err != nil {
			return err
		}
		if err := checkText("--meta value", v); err != nil {
			return err
		}
		n += len(k) + len(v) + 2
	}
	if n > tracker.MaxMetaLen {
		return cliutil.Usagef("meta of %s is %d bytes, limit %d: keep --meta under %d bytes", service, n, tracker.MaxMetaLen, tracker.MaxMetaLen)
	}
	return nil
}
