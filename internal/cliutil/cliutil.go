// Package cliutil holds what ipfinder and sdjoin share on the command line:
// exit codes mapped in one place, flags accepted after positional arguments
// (Positional), key=value flag parsing, one-line diagnostics in one style
// (NewLogHandler: "NAME: warning: ...") and the TTY check for progress lines
// (IsTerminal).
package cliutil

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"
)

// Exit codes shared by every command.
const (
	exitOK       = 0 // success
	ExitFailure  = 1 // runtime failure
	ExitUsage    = 2 // bad flags or arguments
	ExitNotFound = 3 // ran fine, found nothing
)

// exitError carries an exit code through the error chain.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// Usagef returns a usage error (exit 2).
func Usagef(format string, a ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, a...)}
}

// Status returns an error that makes Run exit with code, printing err's
// message, or nothing when err is nil: the exit status of a command run on
// the user's behalf (sdjoin run). A code of 0 is returned as nil.
func Status(code int, err error) error {
	if code == exitOK {
		return nil
	}
	if err == nil {
		err = errors.New("")
	}
	return &exitError{code: code, err: err}
}

// NotFoundf returns a "found nothing" error (exit 3).
func NotFoundf(format string, a ...any) error {
	return &exitError{code: ExitNotFound, err: fmt.Errorf(format, a...)}
}

// Code returns the exit code for err: 0 for nil, the code of a wrapped Usagef
// or NotFoundf error, and 1 otherwise.
func Code(err error) int {
	if err == nil {
		return exitOK
	}
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return ExitFailure
}

// Run runs app with args under ctx, prints any error as one line prefixed with the
// app's name on its ErrWriter, and returns the exit code. Flag parsing errors
// map to exit 2.
func Run(ctx context.Context, app *cli.App, args []string) int {
	app.ExitErrHandler = func(*cli.Context, error) {} // we map codes ourselves
	app.OnUsageError = func(c *cli.Context, err error, _ bool) error {
		return &exitError{code: ExitUsage, err: fmt.Errorf("%w (see --help)", err)}
	}
	wrapUsage(app.Commands)
	if n := len(args); n > 1 && args[n-1] == CompleteFlag {
		complete(app, args[1:n-1])
		return exitOK
	}
	err := app.RunContext(ctx, args)
	if err != nil {
		w := app.ErrWriter
		if w == nil {
			w = io.Discard
		}
		msg := err.Error()
		if msg != "" {
			fmt.Fprintf(w, "%s: %s\n", app.Name, oneLine(msg))
		}
	}
	return Code(err)
}

func wrapUsage(cmds []*cli.Command) {
	for _, c := range cmds {
		c.OnUsageError = func(_ *cli.Context, err error, _ bool) error {
			return &exitError{code: ExitUsage, err: fmt.Errorf("%w (see --help)", err)}
		}
		wrapUsage(c.Subcommands)
	}
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

// ParseMeta parses repeated key=value flags into a map.
func ParseMeta(kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, Usagef("bad --meta %q: want key=value", kv)
		}
		m[k] = v
	}
	return m, nil
}
