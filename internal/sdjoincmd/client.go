package sdjoincmd

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ipfinder-go/ipfinder/internal/check"
	"github.com/ipfinder-go/ipfinder/internal/cliutil"
)

// dialTimeout bounds connecting to the agent.
const dialTimeout = 2 * time.Second

// client talks to the agent on one control socket.
type client struct {
	path    string
	dir     socketDir     // how path's directory is checked
	timeout time.Duration // bounds connecting and each request; 0: dialTimeout and requestTimeout
}

// dial connects to the agent, or explains how to start one. It refuses a
// socket another user could have planted (see checkSocket) and, where the
// system tells, an agent run by another user.
func (cl client) dial() (net.Conn, error) {
	owner, err := checkSocket(cl.path, cl.dir)
	if err != nil {
		return nil, err
	}
	c, err := net.DialTimeout("unix", cl.path, cmp.Or(cl.timeout, dialTimeout))
	if err != nil {
		return nil, dialError(cl.path, err)
	}
	if uid, ok := peerUID(c); ok && uid != os.Getuid() && uid != owner {
		c.Close()
		return nil, fmt.Errorf("control socket %s is served by %s, not you: refusing to talk to it (run the command as that user)", cl.path, userName(uid))
	}
	return c, nil
}

// dialError explains a failed connection to the agent.
func dialError(path string, err error) error {
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("control socket %s: permission denied: the agent runs as another user (run the command as that user)", path)
	}
	return fmt.Errorf("no sdjoin agent at %s: start one with `sdjoin --track NAME`", path)
}

// checkSocket refuses a control socket another user could have planted
// to answer pick with their address and receive track's meta: the socket
// must be ours and its directory ours alone (the default one, as the
// agent checks it) or, given with --socket, owned by us or root and, if
// others may write to it, sticky (so they cannot replace our socket); the
// system service's is checked by checkSystemSocket. A missing socket is
// left to dial to report. It returns the uid the agent may run as.
func checkSocket(path string, dir socketDir) (int, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return os.Getuid(), nil
	}
	if dir == dirSystem {
		return checkSystemSocket(path, fi)
	}
	return os.Getuid(), checkOwnSocket(path, fi, dir)
}

// checkOwnSocket checks a socket of ours (see checkSocket).
func checkOwnSocket(path string, fi os.FileInfo, dir socketDir) error {
	if uid, ok := fileOwner(fi); ok && uid != os.Getuid() {
		return fmt.Errorf("control socket %s belongs to %s, not you: refusing to talk to it (run the command as that user, or use your own --socket)", path, userName(uid))
	}
	d := filepath.Dir(path)
	if dir == dirPrivate {
		return checkPrivateDir(d)
	}
	di, err := os.Stat(d)
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	if uid, ok := fileOwner(di); ok && uid != os.Getuid() && uid != 0 {
		return fmt.Errorf("control socket directory %s belongs to %s, not you: refusing a socket there (use a --socket in a directory of yours)", d, userName(uid))
	}
	if di.Mode().Perm()&0o022 != 0 && di.Mode()&fs.ModeSticky == 0 {
		return fmt.Errorf("control socket directory %s is writable by others (mode %#o) and not sticky: anyone could replace the socket; use a --socket in a directory of yours", d, di.Mode().Perm())
	}
	return nil
}

// send writes req and returns the connection, positioned after the first
// reply, and that reply. An error reply is returned as an error carrying
// its exit code.
func (cl client) send(req request) (net.Conn, *bufio.Reader, reply, error) {
	c, err := cl.dial()
	if err != nil {
		return nil, nil, reply{}, err
	}
	b, _ := json.Marshal(req)
	c.SetDeadline(time.Now().Add(cmp.Or(cl.timeout, requestTimeout)))
	br := bufio.NewReader(c)
	var rep reply
	if _, err := c.Write(append(b, '\n')); err != nil {
		// A busy agent answers and closes before reading: its reply
		// says why, where the write only says "broken pipe".
		if readJSONLine(br, &rep) == nil && rep.Error != "" {
			c.Close()
			return nil, nil, reply{}, replyError(rep)
		}
		c.Close()
		return nil, nil, reply{}, fmt.Errorf("agent at %s: %w", cl.path, err)
	}
	if err := readJSONLine(br, &rep); err != nil {
		c.Close()
		return nil, nil, reply{}, fmt.Errorf("agent at %s: %w", cl.path, err)
	}
	if err := replyError(rep); err != nil {
		c.Close()
		return nil, nil, reply{}, err
	}
	c.SetDeadline(time.Time{})
	return c, br, rep, nil
}

// call sends one request and returns its reply.
func (cl client) call(req request) (reply, error) {
	c, _, rep, err := cl.send(req)
	if err != nil {
		return reply{}, err
	}
	c.Close()
	return rep, nil
}

// replyError turns an error reply into an error with its exit code.
func replyError(rep reply) error {
	switch {
	case rep.Error == "":
		return nil
	case rep.Code == cliutil.ExitNotFound:
		return cliutil.NotFoundf("%s", rep.Error)
	case rep.Code == cliutil.ExitUsage:
		return cliutil.Usagef("%s", rep.Error)
	}
	return errors.New(rep.Error)
}

func readJSONLine(br *bufio.Reader, v any) error {
	line, err := br.ReadBytes('\n')
	if err != nil && (len(line) == 0 || !errors.Is(err, io.EOF)) {
		if errors.Is(err, io.EOF) {
			return errors.New("connection closed")
		}
		return err
	}
	return json.Unmarshal(line, v)
}

// clientFlags are the flags every client command takes.
func clientFlags(withJSON bool) []cli.Flag {
	fs := []cli.Flag{
		&cli.StringFlag{Name: "name", Value: defaultName, Usage: "`NAME` of the agent (finds its default socket)"},
		&cli.StringFlag{Name: "socket", Usage: "control socket `PATH` (default: see --help of sdjoin)"},
	}
	if withJSON {
		fs = append(fs, &cli.BoolFlag{Name: "json", Usage: "print JSON lines"})
	}
	return fs
}

// lookup returns the value of a string flag given to this command or, if
// not, to a parent (sdjoin --name node1 list).
func lookup(c *cli.Context, name string) string {
	for _, cc := range c.Lineage() {
		if cc.Command != nil && cc.IsSet(name) {
			return cc.String(name)
		}
	}
	return c.String(name)
}

func lookupBool(c *cli.Context, name string) bool {
	for _, cc := range c.Lineage() {
		if cc.Command != nil && cc.IsSet(name) {
			return cc.Bool(name)
		}
	}
	return c.Bool(name)
}

// callAgent sends req to the agent the flags name and returns its reply.
func callAgent(c *cli.Context, req request) (reply, error) {
	cl, err := clientFor(c)
	if err != nil {
		return reply{}, err
	}
	return cl.call(req)
}

// clientFor returns the client of the agent the flags name.
func clientFor(c *cli.Context) (client, error) {
	if p := lookup(c, "socket"); p != "" {
		return client{path: p}, nil
	}
	name := lookup(c, "name")
	if err := checkName(name); err != nil {
		return client{}, err
	}
	return defaultClient(name), nil
}

func clientCommands() []*cli.Command {
	cmds := []*cli.Command{
		{
			Name: "list", Usage: "list the providers of SERVICE (or of every service)",
			ArgsUsage: "[SERVICE]",
			Flags: append(clientFlags(true), &cli.BoolFlag{Name: "local",
				Usage: "list this node's entries with their check states, withdrawn ones included"}),
			BashComplete: completeServices(opList),
			Action:       listAction,
		},
		{
			Name: "members", Usage: "list the live nodes of the cluster",
			Flags: clientFlags(true), Action: membersAction,
		},
		{
			Name: "pick", Usage: "print one provider of SERVICE (exit 3 if none)",
			ArgsUsage: "SERVICE",
			Flags: append(clientFlags(true), &cli.StringFlag{Name: "policy", Value: "random",
				Usage: "`POLICY`: random, round-robin, least:FIELD (smallest numeric meta FIELD) or local"}),
			BashComplete: completeServices(opList),
			Action:       pickAction,
		},
		{
			Name: "watch", Usage: "print joins and leaves of SERVICE (or of everything) until interrupted",
			ArgsUsage: "[SERVICE]", Flags: clientFlags(true), BashComplete: completeServices(opList),
			Action: watchAction,
		},
		{
			Name: "track", Usage: "make the running agent track SERVICE (again: replace its meta and checks)",
			ArgsUsage: "SERVICE",
			Flags: append(clientFlags(false),
				&cli.StringSliceFlag{Name: "meta", Usage: "`KEY=VALUE` of the entry (repeatable)"},
				&cli.StringSliceFlag{Name: "check", Usage: "health check `SPEC`: tcp://HOST:PORT, http(s)://URL or exec:COMMAND (repeatable)"},
				&cli.DurationFlag{Name: "check-interval", Usage: "`DURATION` between checks (default 5s)"},
				&cli.DurationFlag{Name: "check-timeout", Usage: "`DURATION` each check may take (default 2s)"},
				&cli.BoolFlag{Name: "hold", Usage: "track it only until this command is interrupted or killed"}),
			Action: trackAction,
		},
		runCommand(),
		{
			Name: "untrack", Usage: "make the running agent stop tracking SERVICE",
			ArgsUsage: "SERVICE", Flags: clientFlags(false), BashComplete: completeServices(opLocal),
			Action: untrackAction,
		},
	}
	for _, c := range cmds {
		c.HideHelpCommand = true // no "help" subcommand (and no shared global)
	}
	return cmds
}

func listAction(c *cli.Context) error {
	args, err := cliutil.Positional(c, 0, 1)
	if err != nil {
		return err
	}
	if c.Bool("local") {
		return listLocal(c, first(args))
	}
	rep, err := callAgent(c, request{Op: opList, Service: first(args)})
	if err != nil {
		return err
	}
	if len(rep.Entries) == 0 {
		if s := first(args); s != "" {
			return cliutil.NotFoundf("no provider of %s", s)
		}
		return cliutil.NotFoundf("no service is tracked")
	}
	if lookupBool(c, "json") {
		return writeJSONLines(c.App.Writer, rep.Entries)
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tNODE\tADDR\tMETA")
	for _, r := range rep.Entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", safe(r.Service), safe(r.Node), r.Addr, metaText(r.Meta))
	}
	return tw.Flush()
}

// listLocal prints this node's entries with their checks: one line per
// check (an entry without checks has one line, check "-").
func listLocal(c *cli.Context, service string) error {
	rep, err := callAgent(c, request{Op: opLocal, Service: service})
	if err != nil {
		return err
	}
	if len(rep.Entries) == 0 {
		if service != "" {
			return cliutil.NotFoundf("this node does not track %s", service)
		}
		return cliutil.NotFoundf("this node tracks nothing")
	}
	if lookupBool(c, "json") {
		return writeJSONLines(c.App.Writer, rep.Entries)
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tKEY\tSTATE\tMETA\tCHECK\tCHECK STATE\tOUTPUT")
	for _, r := range rep.Entries {
		state := r.State
		if state == "pending" || state == "critical" {
			state += " (withdrawn)"
		}
		row := fmt.Sprintf("%s\t%s\t%s\t%s", safe(r.Service), safe(r.Key), state, metaText(r.Meta))
		if len(r.Checks) == 0 {
			fmt.Fprintf(tw, "%s\t-\t-\t-\n", row)
		}
		for _, ck := range r.Checks {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", row, safe(ck.Check), ck.State, outputText(ck.Output))
		}
	}
	return tw.Flush()
}

// outputText is a check's output for a table cell: escaped, "-" when
// empty.
func outputText(s string) string {
	if s == "" {
		return "-"
	}
	return printable(s)
}

func membersAction(c *cli.Context) error {
	if _, err := cliutil.Positional(c, 0, 0); err != nil {
		return err
	}
	rep, err := callAgent(c, request{Op: opMembers})
	if err != nil {
		return err
	}
	if lookupBool(c, "json") {
		return writeJSONLines(c.App.Writer, rep.Members)
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tADDR\tNOTE")
	for _, r := range rep.Members {
		note := ""
		switch {
		case r.Local:
			note = "this agent"
		case r.PrevNode != "":
			note = "was " + safe(r.PrevNode)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", safe(r.Node), r.Addr, note)
	}
	return tw.Flush()
}

func pickAction(c *cli.Context) error {
	args, err := cliutil.Positional(c, 1, 1)
	if err != nil {
		return err
	}
	if _, err := parsePolicy(c.String("policy")); err != nil {
		return err
	}
	cl, err := clientFor(c)
	if err != nil {
		return err
	}
	rep, err := cl.call(request{Op: opPick, Service: first(args), Policy: c.String("policy")})
	if err != nil {
		return err
	}
	if len(rep.Entries) != 1 {
		return fmt.Errorf("agent at %s answered %d entries to pick", cl.path, len(rep.Entries))
	}
	if lookupBool(c, "json") {
		return writeJSONLines(c.App.Writer, rep.Entries)
	}
	_, err = fmt.Fprintln(c.App.Writer, entryText(rep.Entries[0]))
	return err
}

func trackAction(c *cli.Context) error {
	args, err := cliutil.Positional(c, 1, 1)
	if err != nil {
		return err
	}
	ts, err := trackFlagsSpec(c, first(args))
	if err != nil {
		return err
	}
	cl, err := clientFor(c)
	if err != nil {
		return err
	}
	if !c.Bool("hold") {
		w := ts.wire()
		_, err = cl.call(request{Op: opTrack, Service: w.Service, Meta: w.Meta,
			Checks: w.Checks, IntervalMS: w.IntervalMS, TimeoutMS: w.TimeoutMS})
		return err
	}
	s, err := openSession(cl, []trackSpec{ts}, clientWarn(c))
	if err != nil {
		return err
	}
	<-c.Context.Done()
	s.close()
	return nil
}

// trackFlagsSpec returns the entry the flags of track describe.
func trackFlagsSpec(c *cli.Context, service string) (trackSpec, error) {
	meta, err := cliutil.ParseMeta(c.StringSlice("meta"))
	if err != nil {
		return trackSpec{}, err
	}
	ts := trackSpec{service: service, meta: meta,
		interval: c.Duration("check-interval"), timeout: c.Duration("check-timeout")}
	for _, s := range c.StringSlice("check") {
		spec, err := check.Parse(s)
		if err != nil {
			return trackSpec{}, cliutil.Usagef("%v", err)
		}
		ts.checks = append(ts.checks, spec)
	}
	return ts, ts.validate()
}

func untrackAction(c *cli.Context) error {
	args, err := cliutil.Positional(c, 1, 1)
	if err != nil {
		return err
	}
	_, err = callAgent(c, request{Op: opUntrack, Service: first(args)})
	return err
}

// watchAction streams events until interrupted (exit 0) or the agent
// goes away (exit 1).
func watchAction(c *cli.Context) error {
	args, err := cliutil.Positional(c, 0, 1)
	if err != nil {
		return err
	}
	cl, err := clientFor(c)
	if err != nil {
		return err
	}
	conn, br, _, err := cl.send(request{Op: opWatch, Service: first(args)})
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx := c.Context
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	asJSON := lookupBool(c, "json")
	for {
		var ev struct {
			record
			Error string `json:"error"`
			Code  int    `json:"code"`
		}
		if err := readJSONLine(br, &ev); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("agent at %s went away: %w", cl.path, err)
		}
		if ev.Error != "" {
			return replyError(reply{Error: ev.Error, Code: ev.Code})
		}
		if err := writeRecord(c.App.Writer, ev.record, asJSON); err != nil {
			return err
		}
	}
}

func writeJSONLines(w io.Writer, rs []record) error {
	for _, r := range rs {
		if err := writeRecord(w, r, true); err != nil {
			return err
		}
	}
	return nil
}

// first returns the first argument, or "".
func first(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}
