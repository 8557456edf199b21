package cliutil

import (
	"io"
	"os"

	"golang.org/x/term"
)

// IsTerminal reports whether w is a file open on a terminal, where progress
// lines belong. Under cron stderr is a pipe, a file or /dev/null: not one.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
