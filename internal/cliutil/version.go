package cliutil

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// urfave/cli v2 keeps the version flag and printer in package variables:
// set once here for every command. Its default flag takes -v, which our
// commands use for --verbose.
func init() {
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Usage: "print the version and exit"}
	cli.VersionPrinter = printVersion
}

// printVersion prints "NAME VERSION": App.Version holds the rest of the
// line (see internal/version.Line).
func printVersion(c *cli.Context) {
	fmt.Fprintf(c.App.Writer, "%s %s\n", c.App.Name, c.App.Version)
}
