package ipfindercmd

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/ipfinder-go/ipfinder/hostfile"
	"github.com/ipfinder-go/ipfinder/internal/cliutil"
)

func convertCommand() *cli.Command {
	return &cli.Command{
		Name:      "convert",
		Usage:     "re-render a hostfile in another format without scanning",
		ArgsUsage: "[FILE|-]",
		Description: `Reads FILE (or stdin), detecting its format, and writes it in FORMAT:
   ipfinder convert -f erlang ~/.hosts > ~/.hosts.erlang
   ipfinder -f json | ipfinder convert -f plain -`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "hosts", Usage: "output `FORMAT`: hosts, erlang, plain or json"},
			&cli.StringFlag{Name: "from", Value: "auto", Usage: "input `FORMAT`: auto, hosts, erlang, plain or json"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "replace `FILE` atomically instead of writing to stdout"},
			&cli.BoolFlag{Name: "allow-empty", Usage: "write the output even when the input holds no hosts"},
		},
		Action: convert,
	}
}

func convert(c *cli.Context) error {
	args, err := cliutil.Positional(c, 0, 1) // first: it sets flags given after FILE
	if err != nil {
		return err
	}
	to, err := hostfile.ParseFormat(c.String("format"))
	if err != nil || to == hostfile.Auto {
		return cliutil.Usagef("unknown format %q: use hosts, erlang, plain or json", c.String("format"))
	}
	from, err := hostfile.ParseFormat(c.String("from"))
	if err != nil {
		return cliutil.Usagef("unknown --from format %q: use auto, hosts, erlang, plain or json", c.String("from"))
	}
	var path, name string
	if len(args) == 1 {
		path, name = args[0], args[0]
	}
	if path == "" || path == "-" {
		path, name = "", "stdin"
	}
	hosts, err := readInput(c.Context, c.App.Reader, path, from)
	if err != nil {
		return err
	}
	if to == hostfile.Hosts {
		hosts = withGeneratedNames(hosts)
	}
	if len(hosts) == 0 && !c.Bool("allow-empty") {
		// An upstream ipfinder that failed must not blank the file.
		return cliutil.NotFoundf("%s holds no hosts; nothing written (--allow-empty writes it anyway)", name)
	}
	if out := c.String("output"); out != "" {
		_, err := hostfile.WriteFile(out, to, hosts)
		return err
	}
	return hostfile.Write(c.App.Writer, to, hosts)
}

// readInput parses the input of convert: the file at path, or stdin when
// path is "". It gives up when ctx ends (SIGINT, SIGTERM), since a FIFO or
// a pipe may stay open for ever; the reading goroutine, blocked in the
// kernel, then ends with the process.
func readInput(ctx context.Context, stdin io.Reader, path string, from hostfile.Format) ([]hostfile.Host, error) {
	type result struct {
		hosts []hostfile.Host
		err   error
	}
	done := make(chan result, 1)
	go func() {
		hosts, err := parseInput(stdin, path, from)
		done <- result{hosts, err}
	}()
	select {
	case r := <-done:
		return r.hosts, r.err
	case <-ctx.Done():
		if path == "" {
			path = "stdin"
		}
		return nil, fmt.Errorf("interrupted while reading %s; nothing written", path)
	}
}

// parseInput opens and parses the file at path, or stdin when path is "".
func parseInput(stdin io.Reader, path string, from hostfile.Format) ([]hostfile.Host, error) {
	opt := &hostfile.ParseOptions{Format: from}
	if path == "" {
		return hostfile.Parse(stdin, "stdin", opt)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return hostfile.Parse(f, path, opt)
}
