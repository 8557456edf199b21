package check

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// kind is what a check does.
type kind int

const (
	kindNone kind = iota
	kindTCP
	kindHTTP
	kindExec
)

// usage is the fix named by every Parse error.
const usage = "use tcp://HOST:PORT, http://URL, https://URL or exec:COMMAND [ARGS...]"

// A Spec is a parsed health check. The zero Spec is not a check: its Run
// fails.
type Spec struct {
	raw  string
	kind kind
	addr string   // tcp: host:port
	url  string   // http, https
	argv []string // exec
}

// Result is the outcome of running a check once.
type Result struct {
	// Pass reports whether the check passed.
	Pass bool
	// Output describes the outcome: a connection error, the HTTP status
	// and the start of the body, or the command's output. It is at most
	// MaxOutput bytes, on one line, with control characters escaped.
	Output string
}

// Parse parses a check spec:
//
//   - tcp://HOST:PORT passes when a TCP connection to HOST:PORT succeeds.
//   - http://URL and https://URL pass when a GET of the URL answers 2xx or
//     3xx (redirects are not followed).
//   - exec:COMMAND [ARGS...] passes when the command exits 0. The command
//     line is split into words like sh splits a simple command, but no
//     shell runs; see the package doc for the rules.
//
// An error names the spec and the forms Parse accepts.
func Parse(spec string) (Spec, error) {
	s, err := parse(spec)
	if err != nil {
		return Spec{}, fmt.Errorf("bad check %q: %v; %s", spec, err, usage)
	}
	s.raw = spec
	return s, nil
}

func parse(spec string) (Spec, error) {
	scheme, rest, ok := strings.Cut(spec, ":")
	if !ok {
		return Spec{}, fmt.Errorf("no kind")
	}
	switch strings.ToLower(scheme) {
	case "tcp":
		addr, ok := strings.CutPrefix(rest, "//")
		if !ok {
			return Spec{}, fmt.Errorf("want tcp://HOST:PORT")
		}
		if err := checkHostPort(addr); err != nil {
			return Spec{}, err
		}
		return Spec{kind: kindTCP, addr: addr}, nil
	case "http", "https":
		return parseHTTP(spec)
	case "exec":
		return parseExec(rest)
	}
	return Spec{}, fmt.Errorf("unknown kind %q", scheme)
}

func parseExec(cmdline string) (Spec, error) {
	argv, err := splitWords(cmdline)
	if err != nil {
		return Spec{}, fmt.Errorf("command: %w", err)
	}
	if len(argv) == 0 {
		return Spec{}, errors.New(`no command after "exec:"`)
	}
	if err := execSupported(); err != nil {
		return Spec{}, err
	}
	return Spec{kind: kindExec, argv: argv}, nil
}

func parseHTTP(spec string) (Spec, error) {
	u, err := url.Parse(spec)
	if err != nil {
		return Spec{}, fmt.Errorf("bad URL: %v", errors.Unwrap(err))
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return Spec{}, fmt.Errorf("no host in URL")
	}
	if p := u.Port(); p != "" {
		if err := checkPort(p); err != nil {
			return Spec{}, err
		}
	}
	return Spec{kind: kindHTTP, url: u.String()}, nil
}

// checkHostPort reports whether hp is HOST:PORT with a port from 1 to
// 65535.
func checkHostPort(hp string) error {
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		return fmt.Errorf("want HOST:PORT, got %q", hp)
	}
	if host == "" || strings.ContainsAny(host, "/?#@ ") {
		return fmt.Errorf("bad host %q", host)
	}
	return checkPort(port)
}

func checkPort(port string) error {
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return fmt.Errorf("bad port %q: want 1-65535", port)
	}
	return nil
}

// String returns the spec as it was given to Parse.
func (s Spec) String() string { return s.raw }

// Run runs the check once. It returns when the check ends or ctx is done,
// whichever is first; an exec check's whole process group is killed when
// ctx is done. A check that cannot run (a missing command, say) fails with
// that error as its output.
func (s Spec) Run(ctx context.Context) Result {
	switch s.kind {
	case kindTCP:
		return runTCP(ctx, s.addr)
	case kindHTTP:
		return runHTTP(ctx, s.url)
	case kindExec:
		return runExec(ctx, s.argv)
	}
	return Result{Output: "not a check (zero Spec)"}
}
