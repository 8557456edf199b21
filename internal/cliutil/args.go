package cliutil

import (
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// Positional returns the arguments of command c with flags given after them
// applied, so that both `ipfinder convert -f plain FILE` and
// `ipfinder convert FILE -f plain` work (urfave/cli stops parsing flags at
// the first argument); "--" ends the flags and "-" is an argument. It
// checks that there are between min and max arguments; the usage error
// for too few names the first word of the command's ArgsUsage.
func Positional(c *cli.Context, min, max int) ([]string, error) {
	args := c.Args().Slice()
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		n, err := setFlag(c, args[i:])
		if err != nil {
			return nil, err
		}
		i += n
	}
	switch {
	case len(pos) < min:
		return nil, Usagef("%s: missing %s (see --help)", c.Command.Name, argName(c.Command))
	case len(pos) > max:
		return nil, Usagef("%s: unexpected argument %q", c.Command.Name, pos[max])
	}
	return pos, nil
}

// setFlag sets the flag args[0] of c, with its value from args[1] when it
// takes one and has no "=value", and returns how many more arguments it
// used.
func setFlag(c *cli.Context, args []string) (int, error) {
	a := args[0]
	name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
	f := commandFlag(c.Command, name)
	if f == nil {
		return 0, Usagef("%s: flag provided but not defined: %s (see --help)", c.Command.Name, a)
	}
	used := 0
	if _, isBool := f.(*cli.BoolFlag); isBool {
		if !hasVal {
			val = "true"
		}
	} else if !hasVal {
		if len(args) < 2 {
			return 0, Usagef("%s: flag needs an argument: %s", c.Command.Name, a)
		}
		val, used = args[1], 1
	}
	for _, n := range f.Names() { // urfave/cli keeps one value per alias
		if err := c.Set(n, val); err != nil {
			return 0, Usagef("%s: bad %s %q: %v", c.Command.Name, a, val, err)
		}
	}
	return used, nil
}

func commandFlag(cmd *cli.Command, name string) cli.Flag {
	for _, f := range cmd.Flags {
		if slices.Contains(f.Names(), name) {
			return f
		}
	}
	return nil
}

// argName is the first word of cmd's ArgsUsage, without brackets: what a
// usage error says is missing.
func argName(cmd *cli.Command) string {
	if f := strings.Fields(cmd.ArgsUsage); len(f) > 0 {
		return strings.Trim(f[0], "[]")
	}
	return "argument"
}
