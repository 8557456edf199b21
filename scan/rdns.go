package scan

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// RDNSConfig tunes a reverse DNS lookup. A nil *RDNSConfig applies the
// defaults, which need Servers all the same.
type RDNSConfig struct {
	// Servers are the DNS servers to ask, in order: a query goes to the
	// first, its one resend to the next. Use [ResolvConf] for the
	// system's. Lookup fails without any.
	Servers []netip.AddrPort
	// Timeout is how long a query has to be answered, from its first
	// send; an unanswered query is sent again after 300 ms. A server
	// that never answers costs this much, once. Zero means 1 s.
	Timeout time.Duration
	// Logger receives debug messages about ignored packets and failed
	// sends. Nil discards them.
	Logger *slog.Logger
}

// RDNSHost is what DNS said about one address.
type RDNSHost struct {
	Addr  netip.Addr
	Names []string // PTR targets, lower case, without the trailing dot, in answer order
}

// Defaults of RDNSConfig.
const (
	defaultRDNSTimeout = time.Second
	rdnsResend         = 300 * time.Millisecond
)

// ErrNoResolver is returned when there is no DNS server to ask.
var ErrNoResolver = errors.New("no DNS server configured")

// ResolvConf returns the name servers of a resolv.conf(5) file, such as
// /etc/resolv.conf, with their port (53 unless the file's options say
// otherwise). A file without any gives ErrNoResolver.
func ResolvConf(path string) ([]netip.AddrPort, error) {
	cc, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	port, err := strconv.ParseUint(cc.Port, 10, 16)
	if err != nil {
		port = 53
	}
	var out []netip.AddrPort
	for _, s := range cc.Servers {
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, netip.AddrPortFrom(a.Unmap(), uint16(port)))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("scan: %s: %w", path, ErrNoResolver)
	}
	return out, nil
}

// RDNSClient asks DNS servers for the names of addresses (PTR queries of
// d.c.b.a.in-addr.arpa), all at once over one socket. One Lookup at a
// time.
type RDNSClient struct{ sock }

// NewRDNS returns an RDNSClient that sends queries over conn and reads the
// answers from it. Close closes conn.
func NewRDNS(conn net.PacketConn) *RDNSClient { return &RDNSClient{sock{conn: conn}} }

// DialRDNS opens a UDP socket on an ephemeral port (IPv4 and IPv6) and
// returns an RDNSClient over it. It needs no privileges.
func DialRDNS() (*RDNSClient, error) {
	return dialUDP("udp", "reverse dns", NewRDNS)
}

// LookupRDNS opens a socket, looks addrs up and closes it. See
// [RDNSClient.Lookup].
func LookupRDNS(ctx context.Context, addrs []netip.Addr, cfg *RDNSConfig) ([]RDNSHost, error) {
	return dialDo(DialRDNS, func(c *RDNSClient) ([]RDNSHost, error) { return c.Lookup(ctx, addrs, cfg) })
}

// Lookup asks cfg.Servers for the PTR records of every address in addrs
// and returns the addresses that have names, sorted. Only an answer from a
// server asked, with the query's ID and question, counts; a CNAME to the
// PTR (RFC 2317) is followed within the answer. Lookup returns once every
// query was answered (NXDOMAIN included) or the timeout passed; when ctx
// ends first it returns what it found and ctx.Err(). It changes the
// connection's read deadline.
func (c *RDNSClient) Lookup(ctx context.Context, addrs []netip.Addr, cfg *RDNSConfig) ([]RDNSHost, error) {
	cfg = cmp.Or(cfg, &RDNSConfig{})
	t := unicastTiming(cfg.Timeout, defaultRDNSTimeout, rdnsResend)
	log := orDiscard(cfg.Logger)
	servers := cfg.Servers
	if len(servers) == 0 {
		return nil, fmt.Errorf("scan: reverse dns: %w", ErrNoResolver)
	}
	targets := distinct(addrs)
	qnames := make(map[string]int, len(targets))
	for i, a := range targets {
		qnames[reverseName(a)] = i
	}
	ids := randomIDs(len(targets))
	names := make([][]string, len(targets))
	send := func(i, try int) error {
		m := new(dns.Msg)
		m.SetQuestion(reverseName(targets[i]), dns.TypePTR)
		m.Id = ids[i]
		b, err := m.Pack()
		if err != nil {
			return err
		}
		srv := servers[try%len(servers)]
		_, err = c.conn.WriteTo(b, net.UDPAddrFromAddrPort(srv))
		return err
	}
	recv := func(src net.Addr, b []byte) (int, bool) {
		if !fromServer(src, servers) {
			return 0, false
		}
		i, n, err := parsePTRAnswer(b, qnames)
		if err == nil && ids[i] != n.id {
			err = fmt.Errorf("ID %#04x, want %#04x", n.id, ids[i])
		}
		if err != nil {
			log.Debug("reverse dns: ignored answer", "src", src, "err", err)
			return 0, false
		}
		names[i] = n.names
		return i, true
	}
	err := exchange(ctx, c.conn, len(targets), t, log.With("proto", "rdns"), send, recv)
	var hosts []RDNSHost
	for i, n := range names {
		if len(n) > 0 {
			hosts = append(hosts, RDNSHost{Addr: targets[i], Names: n})
		}
	}
	return hosts, exchangeErr(ctx, err, fmt.Sprintf("scan: reverse dns via %v", servers[0]))
}

// distinct returns the distinct valid addresses of addrs, unmapped and
// sorted.
func distinct(addrs []netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, a := range addrs {
		if a.IsValid() {
			out = append(out, a.Unmap().WithZone(""))
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

// reverseName is a's PTR question name: "4.3.2.1.in-addr.arpa." or the
// ip6.arpa nibble form.
func reverseName(a netip.Addr) string {
	n, _ := dns.ReverseAddr(a.String()) // a is a valid address
	return n
}

// fromServer reports whether src is one of servers.
func fromServer(src net.Addr, servers []netip.AddrPort) bool {
	u, ok := src.(*net.UDPAddr)
	if !ok {
		return false
	}
	ap := u.AddrPort()
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	return slices.Contains(servers, ap)
}

// ptrAnswer is what a response to a PTR query says.
type ptrAnswer struct {
	id    uint16
	names []string
}

// parsePTRAnswer reads a response to one of the PTR questions in qnames
// (name to index) and returns the index and the names it gives, lower case
// and without the trailing dot. NXDOMAIN and an empty answer are answers
// without names; a truncated or failed response is an error.
func parsePTRAnswer(b []byte, qnames map[string]int) (int, ptrAnswer, error) {
	var m dns.Msg
	if err := m.Unpack(b); err != nil {
		return 0, ptrAnswer{}, err
	}
	switch {
	case !m.Response || m.Opcode != dns.OpcodeQuery || len(m.Question) != 1:
		return 0, ptrAnswer{}, errors.New("not an answer to one query")
	case m.Truncated:
		return 0, ptrAnswer{}, errors.New("truncated")
	case m.Rcode != dns.RcodeSuccess && m.Rcode != dns.RcodeNameError:
		return 0, ptrAnswer{}, fmt.Errorf("rcode %s", dns.RcodeToString[m.Rcode])
	}
	q := m.Question[0]
	i, ok := qnames[strings.ToLower(q.Name)]
	if !ok || q.Qtype != dns.TypePTR || q.Qclass != dns.ClassINET {
		return 0, ptrAnswer{}, fmt.Errorf("unasked question %q", q.Name)
	}
	return i, ptrAnswer{id: m.Id, names: ptrNames(m.Answer, q.Name)}, nil
}

// ptrNames returns the PTR targets of owner in answer, following CNAMEs
// (at most a few), normalized and without duplicates.
func ptrNames(answer []dns.RR, owner string) []string {
	var names []string
	for range 8 { // CNAME hops
		next := ""
		for _, rr := range answer {
			if !strings.EqualFold(rr.Header().Name, owner) || rr.Header().Class != dns.ClassINET {
				continue
			}
			switch r := rr.(type) {
			case *dns.PTR:
				if n := strings.ToLower(strings.TrimSuffix(r.Ptr, ".")); n != "" && !slices.Contains(names, n) {
					names = append(names, n)
				}
			case *dns.CNAME:
				next = r.Target
			}
		}
		if len(names) > 0 || next == "" {
			return names
		}
		owner = next
	}
	return names
}
