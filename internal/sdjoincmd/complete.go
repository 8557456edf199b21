package sdjoincmd

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
)

// completeTimeout bounds asking the agent for completions: the shell
// waits for them.
const completeTimeout = 500 * time.Millisecond

// completeServices returns the shell completion of a command's SERVICE
// (see cliutil.CompleteFlag): the services in the running agent's reply
// to op (opList: every node's, opLocal: this node's), nothing when no
// agent answers within completeTimeout.
func completeServices(op string) cli.BashCompleteFunc {
	return func(c *cli.Context) {
		cl, err := clientFor(c)
		if err != nil {
			return
		}
		cl.timeout = completeTimeout
		rep, err := cl.call(request{Op: op})
		if err != nil {
			return
		}
		var names []string
		for _, r := range rep.Entries {
			if r.Service != "" && !strings.ContainsFunc(r.Service, isShellSpecial) {
				names = append(names, r.Service)
			}
		}
		slices.Sort(names)
		for _, n := range slices.Compact(names) {
			fmt.Fprintln(c.App.Writer, n)
		}
	}
}

// isShellSpecial reports runes a completion word must not hold: the
// shell scripts split the reply into words at white space.
func isShellSpecial(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r < 0x20 || r == 0x7f
}
