package ipfindercmd

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ipfinder-go/ipfinder/hostfile"
	"github.com/ipfinder-go/ipfinder/internal/cliutil"
)

// output writes hosts to stdout or, with -o, replaces the file when the
// sweep found another host (or --allow-empty).
func output(c *cli.Context, o *options, hosts []hostfile.Host) error {
	fresh := others(hosts)
	where := "stdout"
	if o.output != "" {
		where = o.output
	}
	nothing := "no other host answered"
	if o.epmd {
		nothing = "no host answered with Erlang nodes registered in its epmd"
	}
	if fresh == 0 && !o.allowEmpty {
		if o.output != "" {
			return cliutil.NotFoundf("%s; %s left as it was (--allow-empty writes it anyway)", nothing, o.output)
		}
		return cliutil.NotFoundf("%s", nothing)
	}
	var state []hostfile.Host
	if o.keep > 0 {
		// Another user's state in /tmp would inject hosts: check first.
		if err := hostfile.CheckPlanted(statePath(o.output)); err != nil {
			return fmt.Errorf("--keep state of %s, nothing written: %w", o.output, err)
		}
		hosts, state = keepRecent(o, hosts, time.Now())
	}
	if o.format == hostfile.Hosts {
		hosts = withGeneratedNames(hosts)
	}
	if o.output == "" {
		var b bytes.Buffer
		if err := hostfile.Write(&b, o.format, hosts); err != nil {
			return err
		}
		if _, err := c.App.Writer.Write(b.Bytes()); err != nil {
			return err
		}
	} else {
		changed, err := hostfile.WriteFile(o.output, o.format, hosts)
		if err != nil {
			return err
		}
		o.log.Debug("wrote hostfile", "file", o.output, "hosts", len(hosts), "changed", changed)
	}
	if o.keep > 0 { // only once the output is written
		if _, err := hostfile.WriteFile(statePath(o.output), hostfile.JSON, state); err != nil {
			return fmt.Errorf("%s is written, but its --keep state is not, so hosts seen now may be forgotten: %w", o.output, err)
		}
	}
	if fresh == 0 {
		return cliutil.NotFoundf("%s; wrote %s anyway (--allow-empty)", nothing, where)
	}
	return nil
}

// statePath is where --keep remembers when each host was last seen: a
// hidden JSON hostfile beside the output (.hosts.seen.json for hosts,
// ~/.hosts gives ~/.hosts.seen.json), so the output itself carries no
// timestamps and cron runs make no spurious changes.
func statePath(output string) string {
	dir, base := filepath.Split(output)
	return filepath.Join(dir, "."+strings.TrimPrefix(base, ".")+".seen.json")
}

// keepRecent adds to hosts those of the previous run that were seen within
// o.keep but not now, and returns the state to record once the output is
// written.
func keepRecent(o *options, hosts []hostfile.Host, now time.Time) (out, state []hostfile.Host) {
	path := statePath(o.output)
	prev, err := hostfile.ReadFile(path, &hostfile.ParseOptions{Format: hostfile.JSON, Lenient: true})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		o.log.Warn(fmt.Sprintf("ignoring what cannot be read of the --keep state %s (delete it to silence this): %s", path, summary(err)))
	}
	return keep(prev, hosts, now, o.keep)
}

// keep returns the hosts to write, fresh ones plus those in prev seen within
// window before now, and the state to remember: every host with its last-seen
// time. Hosts are the same host when address and node agree. A last-seen time
// after now (a clock that was ahead, an edited file) counts as now, so that
// the host is not kept for ever.
func keep(prev, fresh []hostfile.Host, now time.Time, window time.Duration) (out, state []hostfile.Host) {
	key := func(h hostfile.Host) string { return h.Addr.String() + " " + h.Node }
	before := make(map[string]hostfile.Host, len(prev))
	for _, h := range prev {
		before[key(h)] = h
	}
	seen := make(map[string]bool, len(fresh))
	for _, h := range fresh {
		seen[key(h)] = true
		if p, ok := before[key(h)]; ok && len(h.Names) == 0 && len(h.Services) == 0 && p.MAC.String() == h.MAC.String() {
			// No source named it this time: keep what they said before, so
			// the file does not flap between a name and a generated one.
			h.Names, h.Services, h.Sources, h.Workgroup = p.Names, p.Services, p.Sources, p.Workgroup
		}
		out = append(out, h)
		h.LastSeen = now.UTC().Truncate(time.Second)
		state = append(state, h)
	}
	for _, h := range prev {
		if h.LastSeen.After(now) {
			h.LastSeen = now.UTC().Truncate(time.Second)
		}
		if seen[key(h)] || h.LastSeen.IsZero() || now.Sub(h.LastSeen) > window || h.Self {
			continue
		}
		seen[key(h)] = true
		state = append(state, h)
		h.LastSeen = time.Time{}
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, b hostfile.Host) int {
		if c := a.Addr.Compare(b.Addr); c != 0 {
			return c
		}
		return strings.Compare(a.Node, b.Node)
	})
	return out, state
}

// summary is err on one line: the first of several joined errors (such as
// the bad lines of a lenient parse) and how many more there are, counting
// those a parse left unlisted.
func summary(err error) string {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		if errs := j.Unwrap(); len(errs) > 1 {
			more := len(errs) - 1
			if u, ok := errs[more].(interface{ Unlisted() int }); ok {
				more += u.Unlisted() - 1
			}
			return fmt.Sprintf("%v (and %d more)", errs[0], more)
		}
	}
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}
