package sdjoincmd

import (
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/ipfinder-go/ipfinder/internal/cliutil"
)

// positional returns the arguments of a client command with flags given
// after them applied, so that both `sdjoin pick --json test` and
// `sdjoin pick test --json` work (urfave/cli stops parsing flags at the
// first argument). It checks there are between min and max of them.
func positional(c *cli.Context, min, max int) ([]string, error) {
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
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f := commandFlag(c.Command, name)
		if f == nil {
			return nil, cliutil.Usagef("%s: flag provided but not defined: %s (see --help)", c.Command.Name, a)
		}
		if _, isBool := f.(*cli.BoolFlag); isBool {
			if !hasVal {
				val = "true"
			}
		} else if !hasVal {
			if i+1 >= len(args) {
				return nil, cliutil.Usagef("%s: flag needs an argument: %s", c.Command.Name, a)
			}
			i++
			val = args[i]
		}
		if err := c.Set(name, val); err != nil {
			return nil, cliutil.Usagef("%s: bad %s %q: %v", c.Command.Name, a, val, err)
		}
	}
	switch {
	case len(pos) < min:
		return nil, cliutil.Usagef("%s: missing SERVICE (see --help)", c.Command.Name)
	case len(pos) > max:
		return nil, cliutil.Usagef("%s: unexpected argument %q", c.Command.Name, pos[max])
	}
	return pos, nil
}

func commandFlag(cmd *cli.Command, name string) cli.Flag {
	for _, f := range cmd.Flags {
		if slices.Contains(f.Names(), name) {
			return f
		}
	}
	return nil
}
