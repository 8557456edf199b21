package scan

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"time"
)

// NetBIOSConfig tunes a NetBIOS node status query. A nil *NetBIOSConfig
// applies the defaults.
type NetBIOSConfig struct {
	// Timeout is how long a host has to answer, from its first query; a
	// host still silent after 150 ms is asked once more. Zero means
	// 400 ms.
	Timeout time.Duration
	// Port is the UDP port queries go to. Zero means 137, the NetBIOS
	// name service.
	Port uint16
	// Logger receives debug messages about ignored packets and failed
	// sends. Nil discards them.
	Logger *slog.Logger
}

// NetBIOSHost is what one host said about itself in answer to a NetBIOS
// node status query.
type NetBIOSHost struct {
	Addr      netip.Addr
	Name      string // machine name, lower case, without padding: "samba1"
	Workgroup string // workgroup or domain as the host wrote it: "WORKGROUP"; may be empty
}

// Defaults of NetBIOSConfig.
const (
	defaultNetBIOSTimeout = 400 * time.Millisecond
	netbiosResend         = 150 * time.Millisecond
	netbiosPort           = 137
)

// NetBIOSClient asks hosts for their NetBIOS names with node status
// (NBSTAT) queries, as nbtscan and `nmblookup -A` do. One Query at a time.
type NetBIOSClient struct{ sock }

// NewNetBIOS returns a NetBIOSClient that sends queries over conn and reads
// the answers from it. Close closes conn.
func NewNetBIOS(conn net.PacketConn) *NetBIOSClient {
	return &NetBIOSClient{sock{conn: conn}}
}

// DialNetBIOS opens a UDP socket on an ephemeral port and returns a
// NetBIOSClient over it. It needs no privileges.
func DialNetBIOS() (*NetBIOSClient, error) {
	return dialUDP("udp4", "netbios", NewNetBIOS)
}

// QueryNetBIOS opens a socket, queries addrs and closes it. See
// [NetBIOSClient.Query].
func QueryNetBIOS(ctx context.Context, addrs []netip.Addr, cfg *NetBIOSConfig) ([]NetBIOSHost, error) {
	return dialDo(DialNetBIOS, func(c *NetBIOSClient) ([]NetBIOSHost, error) { return c.Query(ctx, addrs, cfg) })
}

// Query sends a node status query to UDP port 137 of every IPv4 address in
// addrs and returns the hosts that answered with a machine name, sorted by
// address. Only an answer from the queried address, with the query's
// transaction ID, counts. Query returns once every host answered or the
// timeout passed; when ctx ends first it returns what it found and
// ctx.Err(). It changes the connection's read deadline.
func (c *NetBIOSClient) Query(ctx context.Context, addrs []netip.Addr, cfg *NetBIOSConfig) ([]NetBIOSHost, error) {
	cfg = cmp.Or(cfg, &NetBIOSConfig{})
	t := unicastTiming(cfg.Timeout, defaultNetBIOSTimeout, netbiosResend)
	port := cmp.Or(cfg.Port, netbiosPort)
	log := orDiscard(cfg.Logger)
	targets := ipv4Only(addrs)
	index := make(map[netip.Addr]int, len(targets))
	for i, a := range targets {
		index[a] = i
	}
	ids := randomIDs(len(targets))
	found := make([]*NetBIOSHost, len(targets))
	send := func(i, _ int) error {
		dst := net.UDPAddrFromAddrPort(netip.AddrPortFrom(targets[i], port))
		_, err := c.conn.WriteTo(nbstatQuery(ids[i]), dst)
		return err
	}
	recv := func(src net.Addr, b []byte) (int, bool) {
		u, ok := src.(*net.UDPAddr)
		if !ok {
			return 0, false
		}
		i, ok := index[u.AddrPort().Addr().Unmap()]
		if !ok {
			return 0, false
		}
		st, err := parseNBSTAT(b, ids[i])
		if err != nil {
			log.Debug("netbios: ignored answer", "src", src, "err", err)
			return 0, false
		}
		found[i] = &NetBIOSHost{Addr: targets[i], Name: st.name, Workgroup: st.workgroup}
		return i, true
	}
	err := exchange(ctx, c.conn, len(targets), t, log.With("proto", "netbios"), send, recv)
	var hosts []NetBIOSHost
	for _, h := range found {
		if h != nil && h.Name != "" {
			hosts = append(hosts, *h)
		}
	}
	return hosts, exchangeErr(ctx, err, "scan: netbios")
}

// ipv4Only returns the distinct IPv4 addresses of addrs, sorted.
func ipv4Only(addrs []netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, a := range addrs {
		if a = a.Unmap(); a.Is4() {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

// randomIDs returns n random transaction IDs, so that an off-path host
// cannot guess them.
func randomIDs(n int) []uint16 {
	b := make([]byte, 2*n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	ids := make([]uint16, n)
	for i := range ids {
		ids[i] = binary.BigEndian.Uint16(b[2*i:])
	}
	return ids
}
