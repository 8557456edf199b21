package sdjoincmd

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/urfave/cli/v2"

	"github.com/ipfinder-go/ipfinder/hostfile"
	"github.com/ipfinder-go/ipfinder/internal/check"
	"github.com/ipfinder-go/ipfinder/internal/cliutil"
	"github.com/ipfinder-go/ipfinder/internal/version"
	"github.com/ipfinder-go/ipfinder/tracker"
)

// defaultName is the NAME of NAME@IP without --name.
const defaultName = "sdjoin"

// App returns the sdjoin command writing data to stdout and diagnostics
// to stderr.
func App(stdout, stderr io.Writer) *cli.App {
	tl := &trackList{}
	return &cli.App{
		Name:    "sdjoin",
		Usage:   "join a hostfile's peers, track services, print joins and leaves",
		Version: versionLine(),
		UsageText: "sdjoin [--track NAME [--meta k=v ...]]... [options]\n" +
			"sdjoin list|members|pick|watch|track|untrack [options] [SERVICE]",
		Description:     manual,
		Writer:          stdout,
		ErrWriter:       stderr,
		HideHelpCommand: true,
		Flags:           agentFlags(tl),
		Action: func(c *cli.Context) error {
			opt, err := parseAgentOptions(c, tl)
			if err != nil {
				return err
			}
			oneProc(opt)
			return newAgent(opt, c.App.Writer, c.App.ErrWriter).run(c.Context)
		},
		Commands: clientCommands(),
	}
}

// oneProc runs the agent's Go code on one processor at a time
// (GOMAXPROCS=1) unless
// GOMAXPROCS is set or a front-end (--http, --dns) may serve many
// clients. Its own work is a few packets and timers a second, and with
// two Ps Go's scheduler woke a second thread to look for work after
// each: an idle agent spent 17% more CPU (issue 15).
func oneProc(opt *agentOptions) {
	if os.Getenv("GOMAXPROCS") == "" && !opt.http.IsValid() && !opt.dns.addr.IsValid() {
		runtime.GOMAXPROCS(1)
	}
}

// versionLine is what --version prints after "sdjoin": the build, and
// the protocols it speaks, which must match its peers'.
func versionLine() string {
	return version.Line(
		fmt.Sprintf("gossip protocol %d", tracker.ProtocolVersion),
		fmt.Sprintf("memberlist protocol %d", memberlist.DefaultLANConfig().ProtocolVersion))
}

func agentFlags(tl *trackList) []cli.Flag {
	return append(trackFlags(tl),
		&cli.StringFlag{Name: "name", Value: defaultName, Usage: "`NAME` of the node NAME@IP; also names the default control socket"},
		&cli.StringFlag{Name: "bind", Value: "0.0.0.0:7946", Usage: "gossip `ADDR:PORT` (UDP and TCP)"},
		&cli.StringFlag{Name: "advertise", Usage: "`ADDR` other nodes reach this one at (default: the bind address, or this machine's IPv4 address, followed as it changes)"},
		&cli.StringFlag{Name: "hostfile", Usage: "read peers from `FILE` (default ~/.hosts, else ~/.hosts.erlang)"},
		&cli.StringFlag{Name: "socket", Usage: "control socket `PATH` (default $XDG_RUNTIME_DIR/sdjoin/NAME.sock or /tmp/sdjoin-UID/NAME.sock; as a service /run/sdjoin/NAME.sock)"},
		&cli.StringFlag{Name: "key-file", Usage: "encrypt gossip with the 32-byte key in `FILE` (raw, hex or base64; mode 600)"},
		&cli.StringFlag{Name: "cluster", Usage: "cluster `LABEL`: nodes with another label ignore this one"},
		&cli.StringFlag{Name: "http", Usage: "serve the HTTP API on `ADDR:PORT`, such as 127.0.0.1:8500 (default: off)"},
		&cli.StringFlag{Name: "http-token-file", Usage: "allow HTTP track and untrack from anywhere with the token in `FILE` (Authorization: Bearer; mode 600); without it, only from loopback"},
		&cli.DurationFlag{Name: "http-keepalive", Hidden: true},
		&cli.BoolFlag{Name: "json", Usage: "print events as JSON lines"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "log gossip details on stderr"},
		&cli.BoolFlag{Name: "no-discover", Usage: "neither announce this agent over mDNS nor look for peers that way (implies --no-publish)"},
		&cli.BoolFlag{Name: "no-publish", Usage: "do not publish this node's services (those with a port in their meta) over DNS-SD"},
		&cli.BoolFlag{Name: "no-rename", Usage: "keep the node's name when the address changes (following it is on unless --advertise or a specific --bind fixes the address)"},
		&cli.StringFlag{Name: "dns", Usage: "answer DNS queries for NAME.service.sdjoin (also _NAME._tcp.service.sdjoin, RFC 2782) and NODE.node.sdjoin on `ADDR:PORT` (UDP and TCP), such as 127.0.0.1:8600"},
		&cli.StringFlag{Name: "dns-domain", Value: defaultDNSDomain, Usage: "`DOMAIN` of the DNS interface"},
		&cli.DurationFlag{Name: "dns-ttl", Usage: "TTL of DNS answers in whole seconds, such as 30s (`DURATION`; 0: never cached)"},
		&cli.DurationFlag{Name: "rename-debounce", Hidden: true},
		&cli.DurationFlag{Name: "rename-grace", Hidden: true},
		&cli.DurationFlag{Name: "retry-interval", Value: defaultRetryInterval, Hidden: true},
		&cli.DurationFlag{Name: "hostfile-poll", Value: defaultHostfilePoll, Hidden: true},
	)
}

// trackFlags are --track, --meta, --check, --check-interval and
// --check-timeout, collected into tl in command-line order: the flags
// after a --track apply to it.
func trackFlags(tl *trackList) []cli.Flag {
	return []cli.Flag{
		&cli.GenericFlag{Name: "track", Value: (*trackValue)(tl), Usage: "track service `NAME` (repeatable; the --meta and --check flags after it apply to it)"},
		&cli.GenericFlag{Name: "meta", Value: (*metaValue)(tl), Usage: "`KEY=VALUE` of the preceding --track (repeatable)"},
		&cli.GenericFlag{Name: "check", Value: (*checkValue)(tl), Usage: "health check `SPEC` of the preceding --track: tcp://HOST:PORT, http(s)://URL or exec:COMMAND (repeatable)"},
		&cli.GenericFlag{Name: "check-interval", Value: (*intervalValue)(tl), Usage: "`DURATION` between checks of the preceding --track (default 5s)"},
		&cli.GenericFlag{Name: "check-timeout", Value: (*timeoutValue)(tl), Usage: "`DURATION` each check of the preceding --track may take (default 2s)"},
	}
}

// trackList collects --track and the flags that follow it in
// command-line order.
type trackList struct {
	specs []trackSpec
}

// last returns the spec of the last --track, or an error naming flag
// when there is none.
func (tl *trackList) last(flag, value string) (*trackSpec, error) {
	if len(tl.specs) == 0 {
		return nil, fmt.Errorf("%s %s must follow the --track NAME it describes", flag, value)
	}
	return &tl.specs[len(tl.specs)-1], nil
}

// checkValue is the flag.Value of --check.
type checkValue trackList

func (v *checkValue) String() string { return "" }

func (v *checkValue) Set(s string) error {
	ts, err := (*trackList)(v).last("--check", s)
	if err != nil {
		return err
	}
	spec, err := check.Parse(s)
	if err != nil {
		return err
	}
	ts.checks = append(ts.checks, spec)
	return nil
}

// intervalValue is the flag.Value of --check-interval.
type intervalValue trackList

func (v *intervalValue) String() string { return "" }

func (v *intervalValue) Set(s string) error {
	ts, err := (*trackList)(v).last("--check-interval", s)
	if err != nil {
		return err
	}
	ts.interval, err = time.ParseDuration(s)
	return err
}

// timeoutValue is the flag.Value of --check-timeout.
type timeoutValue trackList

func (v *timeoutValue) String() string { return "" }

func (v *timeoutValue) Set(s string) error {
	ts, err := (*trackList)(v).last("--check-timeout", s)
	if err != nil {
		return err
	}
	ts.timeout, err = time.ParseDuration(s)
	return err
}

// trackValue is the flag.Value of --track.
type trackValue trackList

func (v *trackValue) String() string { return "" }

func (v *trackValue) Set(s string) error {
	if err := checkService(s); err != nil {
		return err
	}
	v.specs = append(v.specs, trackSpec{service: s})
	return nil
}

// metaValue is the flag.Value of --meta.
type metaValue trackList

func (v *metaValue) String() string { return "" }

func (v *metaValue) Set(s string) error {
	last, err := (*trackList)(v).last("--meta", s)
	if err != nil {
		return err
	}
	m, err := cliutil.ParseMeta([]string{s})
	if err != nil {
		return err
	}
	if last.meta == nil {
		last.meta = map[string]string{}
	}
	for k, val := range m {
		last.meta[k] = val
	}
	return nil
}

// checkName checks the NAME of NAME@IP with hostfile.CheckNodeName, the
// rule ipfinder --name follows too.
func checkName(n string) error {
	if hostfile.CheckNodeName(n) != nil {
		return cliutil.Usagef("bad --name %q: want ASCII letters, digits, '_', '-' and '.' (at most 209), such as node1", n)
	}
	return nil
}

// defaultSocketFor returns the default control socket of the agent named
// name for this user.
func defaultSocketFor(name string) string {
	return defaultSocket(name, os.Getenv("XDG_RUNTIME_DIR"), os.Getuid())
}

func parseAgentOptions(c *cli.Context, tl *trackList) (*agentOptions, error) {
	if c.NArg() > 0 {
		return nil, cliutil.Usagef("unexpected argument %q (did you mean --track %s?)", c.Args().First(), c.Args().First())
	}
	o := &agentOptions{
		name:    c.String("name"),
		tracks:  tl.specs,
		socket:  c.String("socket"),
		label:   c.String("cluster"),
		json:    c.Bool("json"),
		verbose: c.Bool("verbose"),
		retry:   c.Duration("retry-interval"),
		poll:    c.Duration("hostfile-poll"),
	}
	o.discover = !c.Bool("no-discover")
	o.publish = !c.Bool("no-publish")
	o.renameDebounce = c.Duration("rename-debounce")
	o.renameGrace = c.Duration("rename-grace")
	if err := checkName(o.name); err != nil {
		return nil, err
	}
	for _, ts := range o.tracks {
		if err := ts.validate(); err != nil {
			return nil, err
		}
	}
	var err error
	if o.bind, err = parseBind(c.String("bind")); err != nil {
		return nil, err
	}
	if s := c.String("advertise"); s != "" {
		if o.advertise, err = netip.ParseAddr(s); err != nil || o.advertise.IsUnspecified() || o.advertise.Zone() != "" {
			return nil, cliutil.Usagef("bad --advertise %q: want an address such as 192.168.1.10", s)
		}
	}
	o.rename = !c.Bool("no-rename") && !o.advertise.IsValid() && o.bind.Addr().IsUnspecified()
	if o.retry <= 0 || o.poll <= 0 {
		return nil, cliutil.Usagef("intervals must be positive")
	}
	if h := c.String("hostfile"); h != "" {
		o.hostfiles = []string{h}
	} else {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("no home directory for the default hostfile: use --hostfile (%w)", err)
		}
		o.hostfiles = defaultHostfiles(home)
	}
	if o.socket == "" {
		o.socket, o.socketDir = agentSocket(o.name)
	} else if o.socket, err = filepath.Abs(o.socket); err != nil {
		return nil, err
	}
	if kf := c.String("key-file"); kf != "" {
		if o.key, err = readKeyFile(kf); err != nil {
			return nil, err
		}
		o.keyFile = kf
	}
	if o.dns, err = parseDNSOptions(c); err != nil {
		return nil, err
	}
	if err := parseHTTPOptions(c, o); err != nil {
		return nil, err
	}
	if len(o.label) > 255 {
		return nil, cliutil.Usagef("bad --cluster: %d bytes, limit 255", len(o.label))
	}
	return o, nil
}

// parseHTTPOptions parses --http and --http-token-file into o.
func parseHTTPOptions(c *cli.Context, o *agentOptions) error {
	o.httpKeepalive = c.Duration("http-keepalive")
	s, tf := c.String("http"), c.String("http-token-file")
	if s == "" {
		if tf != "" {
			return cliutil.Usagef("--http-token-file needs --http ADDR:PORT")
		}
		return nil
	}
	var err error
	if o.http, err = netip.ParseAddrPort(s); err != nil || o.http.Addr().Zone() != "" {
		return cliutil.Usagef("bad --http %q: want ADDR:PORT such as 127.0.0.1:8500", s)
	}
	if tf != "" {
		o.httpToken, err = readTokenFile(tf)
		o.httpTokenFile = tf
	}
	return err
}

// parseBind parses ADDR:PORT or ADDR (port 7946).
func parseBind(s string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap, nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(a, tracker.DefaultPort), nil
	}
	return netip.AddrPort{}, cliutil.Usagef("bad --bind %q: want ADDR:PORT such as 0.0.0.0:7946", s)
}
