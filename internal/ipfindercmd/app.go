package ipfindercmd

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ipfinder-go/ipfinder/hostfile"
	"github.com/ipfinder-go/ipfinder/internal/cliutil"
	"github.com/ipfinder-go/ipfinder/internal/version"
	"github.com/ipfinder-go/ipfinder/scan"
)

const description = `ipfinder sweeps the IPv4 subnets attached to this machine with ARP and
asks mDNS at the same time for host names and the service types hosts
publish, then prints a hostfile: hosts(5) by default, Erlang's .hosts.erlang,
a plain list, or JSON.

Every found host is in the file, with every name any source gives it:
mDNS, reverse DNS (the server in /etc/resolv.conf, on a home LAN the
router, which knows its DHCP clients' names; or --dns) and NetBIOS
(Windows and Samba hosts), all asked at the same time as the sweep runs.
The first name is the host's own mDNS name, then DNS's, then NetBIOS's.
Hosts that no source names get a name generated from their address in the
hosts format: host-10-0-0-5.
This machine is included (marked "self" in JSON) unless --no-self.

IPv6: an ICMPv6 echo to all-nodes (ff02::1) on each swept interface finds
the hosts' IPv6 addresses, grouped with their IPv4 address by MAC. JSON
lists them per host ("ipv6"); the hosts and plain formats add a line for
each global or unique local address. Hosts with only IPv6 are listed by
their global address (or link-local one). --no-ipv6 skips it.

With -o the file is replaced atomically, only when the sweep succeeded and
found something (see --allow-empty), and only when its content changed, so
it is safe to run from cron:

   */10 * * * *  ipfinder -o ~/.hosts
   ipfinder -f erlang --name app -o ~/.hosts.erlang
   ipfinder -f erlang --epmd > .hosts.erlang
   ipfinder --cidr 192.168.1.0/24 --exclude 192.168.1.1 -f json
   ipfinder --dns 192.168.1.1 --no-netbios

ARP and IPv6 need CAP_NET_RAW: run as root or 'setcap cap_net_raw+ep ipfinder'.

Exit codes: 0 hosts found, 1 failure, 2 usage error, 3 the sweep found no
other host (the -o file is left as it was unless --allow-empty).`

// App returns the ipfinder command writing data to stdout and diagnostics to
// stderr.
func App(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:                   "ipfinder",
		Usage:                  "find the hosts on the local subnets and write a hostfile",
		Version:                version.Line(),
		UsageText:              "ipfinder [options]\nipfinder convert [-f FORMAT] [FILE|-]",
		Description:            description,
		Writer:                 stdout,
		ErrWriter:              stderr,
		HideHelpCommand:        true,
		UseShortOptionHandling: true,
		Flags:                  sweepFlags(),
		Action:                 sweepAction,
		Commands:               []*cli.Command{convertCommand()},
	}
}

func sweepFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "interface", Aliases: []string{"i"}, Usage: "sweep only interface `NAME` (repeatable; default: every up, non-loopback interface with IPv4)"},
		&cli.StringSliceFlag{Name: "cidr", Usage: "sweep `PREFIX` instead of the attached subnets (repeatable; must be on-link)"},
		&cli.StringSliceFlag{Name: "exclude", Usage: "leave out `ADDR|PREFIX` (repeatable)"},
		&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "hosts", Usage: "output `FORMAT`: hosts, erlang, plain or json"},
		&cli.BoolFlag{Name: "json", Usage: "same as -f json"},
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "replace `FILE` atomically instead of writing to stdout"},
		&cli.StringSliceFlag{Name: "name", Usage: "write Erlang node `NAME`@ip for every host found (repeatable)"},
		&cli.BoolFlag{Name: "epmd", Usage: "ask each host's epmd (TCP 4369) for its Erlang nodes and write those name@ip"},
		&cli.BoolFlag{Name: "no-arp", Usage: "skip the ARP sweep (hosts come from mDNS only; no IPv6 either)"},
		&cli.BoolFlag{Name: "no-mdns", Usage: "skip mDNS (no .local names or services)"},
		&cli.BoolFlag{Name: "no-rdns", Usage: "skip reverse DNS (the names the LAN's DNS server, usually the router, knows)"},
		&cli.StringFlag{Name: "dns", Usage: "ask `SERVER[:PORT]` for reverse DNS instead of the servers in /etc/resolv.conf"},
		&cli.BoolFlag{Name: "no-netbios", Usage: "skip NetBIOS name queries (names of Windows and Samba hosts)"},
		&cli.BoolFlag{Name: "no-ipv6", Usage: "skip IPv6 (no ICMPv6 echo to ff02::1, no \"ipv6\" addresses); --no-arp skips it too"},
		&cli.BoolFlag{Name: "no-self", Usage: "leave this machine out"},
		&cli.DurationFlag{Name: "timeout", Value: scan.DefaultARPTimeout, Usage: "how long a host has to answer ARP and the IPv6 echo (50ms suits a quiet wired LAN)"},
		&cli.IntFlag{Name: "retries", Value: scan.DefaultARPRetries, Usage: "extra ARP requests for silent addresses (on subnets larger than a /24 about one each, see README)"},
		&cli.IntFlag{Name: "rate", Usage: "ARP requests per second (default: 1000 on Wi-Fi, about 0.5 Mbit/s; 10000 on other links)"},
		&cli.BoolFlag{Name: "force", Usage: "allow sweeping a prefix larger than /16"},
		&cli.DurationFlag{Name: "keep", Usage: "with -o: keep hosts seen within `DURATION` that did not answer this time"},
		&cli.BoolFlag{Name: "allow-empty", Usage: "with -o: write the file even when no other host was found"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "log details on stderr"},
	}
}

// options are the validated flags of a sweep.
type options struct {
	ifaces     []string
	cidrs      []netip.Prefix
	exclude    []netip.Prefix
	format     hostfile.Format
	output     string
	names      []string
	epmd       bool
	arp, mdns  bool
	rdns       bool
	dns        []netip.AddrPort // --dns; nil: the servers of resolvConf
	resolvConf string
	netbios    bool
	ipv6       bool
	self       bool
	timeout    time.Duration
	retries    int
	rate       int
	force      bool
	keep       time.Duration
	allowEmpty bool
	log        *slog.Logger // warnings, and details with -v
	scanLog    *slog.Logger // for package scan: details only (see detailsOnly)
	stderr     io.Writer
}

func parseOptions(c *cli.Context) (*options, error) {
	o := &options{
		ifaces:     c.StringSlice("interface"),
		output:     c.String("output"),
		names:      c.StringSlice("name"),
		epmd:       c.Bool("epmd"),
		arp:        !c.Bool("no-arp"),
		mdns:       !c.Bool("no-mdns"),
		rdns:       !c.Bool("no-rdns"),
		resolvConf: resolvConf,
		netbios:    !c.Bool("no-netbios"),
		ipv6:       !c.Bool("no-ipv6") && !c.Bool("no-arp"), // without ARP MACs, IPv6 addresses join no host
		self:       !c.Bool("no-self"),
		timeout:    c.Duration("timeout"),
		retries:    c.Int("retries"),
		rate:       c.Int("rate"),
		force:      c.Bool("force"),
		keep:       c.Duration("keep"),
		allowEmpty: c.Bool("allow-empty"),
		stderr:     c.App.ErrWriter,
	}
	if c.NArg() > 0 {
		return nil, cliutil.Usagef("unexpected argument %q (did you mean --cidr %s?)", c.Args().First(), c.Args().First())
	}
	var err error
	format := c.String("format")
	if c.Bool("json") {
		format = "json"
	}
	if o.format, err = hostfile.ParseFormat(format); err != nil || o.format == hostfile.Auto {
		return nil, cliutil.Usagef("unknown format %q: use hosts, erlang, plain or json", format)
	}
	for _, s := range c.StringSlice("cidr") {
		p, err := netip.ParsePrefix(s)
		if err != nil || !p.Addr().Is4() {
			return nil, cliutil.Usagef("bad --cidr %q: want an IPv4 prefix such as 192.168.1.0/24", s)
		}
		o.cidrs = append(o.cidrs, p.Masked())
	}
	for _, s := range c.StringSlice("exclude") {
		p, err := parseAddrOrPrefix(s)
		if err != nil {
			return nil, cliutil.Usagef("bad --exclude %q: want an address or a prefix such as 192.168.1.1 or 192.168.1.128/25", s)
		}
		o.exclude = append(o.exclude, p)
	}
	if s := c.String("dns"); s != "" {
		if !o.rdns {
			return nil, cliutil.Usagef("--dns and --no-rdns together: use one")
		}
		if o.dns, err = parseDNS(s); err != nil {
			return nil, err
		}
	}
	for _, n := range o.names {
		if hostfile.CheckNodeName(n) != nil {
			return nil, cliutil.Usagef("bad --name %q: want the name part of an Erlang node name, such as app", n)
		}
	}
	switch {
	case !o.arp && !o.mdns:
		return nil, cliutil.Usagef("--no-arp and --no-mdns together leave nothing to sweep")
	case (o.epmd || len(o.names) > 0) && o.format == hostfile.Hosts:
		return nil, cliutil.Usagef("--name and --epmd write Erlang node names: use -f erlang, plain or json")
	case o.epmd && len(o.names) > 0:
		return nil, cliutil.Usagef("--epmd and --name both choose node names: use one")
	case o.keep < 0:
		return nil, cliutil.Usagef("bad --keep %s: want a positive duration such as 24h", o.keep)
	case o.keep > 0 && o.output == "":
		return nil, cliutil.Usagef("--keep needs -o FILE: it keeps hosts from the previous file")
	case o.timeout <= 0:
		return nil, cliutil.Usagef("bad --timeout %s: want a positive duration such as 500ms", o.timeout)
	case o.rate < 0:
		return nil, cliutil.Usagef("bad --rate %d: want packets per second, such as 1000 (0: by link type)", o.rate)
	case o.retries < 0:
		return nil, cliutil.Usagef("bad --retries %d: want 0 or more", o.retries)
	}
	level := slog.LevelWarn
	if c.Bool("verbose") {
		level = slog.LevelDebug
	}
	o.log = slog.New(cliutil.NewLogHandler(o.stderr, "ipfinder", level))
	o.scanLog = slog.New(detailsOnly{o.log.Handler()})
	return o, nil
}

func parseAddrOrPrefix(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	return p.Masked(), err
}

func sweepAction(c *cli.Context) error {
	o, err := parseOptions(c)
	if err != nil {
		return err
	}
	hosts, err := sweep(c.Context, o)
	if err != nil {
		return err
	}
	return output(c, o, hosts)
}

// detailsOnly logs a library's records at Debug level at most, so that they
// show with -v only: ipfinder itself warns about what the user must know,
// once (an IP conflict once per address, where scan logs every reply).
type detailsOnly struct{ h slog.Handler }

func (d detailsOnly) Enabled(ctx context.Context, l slog.Level) bool {
	return d.h.Enabled(ctx, min(l, slog.LevelDebug))
}

func (d detailsOnly) Handle(ctx context.Context, r slog.Record) error {
	r.Level = min(r.Level, slog.LevelDebug)
	return d.h.Handle(ctx, r)
}

func (d detailsOnly) WithAttrs(as []slog.Attr) slog.Handler { return detailsOnly{d.h.WithAttrs(as)} }
func (d detailsOnly) WithGroup(name string) slog.Handler    { return detailsOnly{d.h.WithGroup(name)} }
