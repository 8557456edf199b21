package tracker

import (
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/hashicorp/memberlist"
)

// Limits on what can be tracked. They keep every change small enough to
// gossip in one UDP packet and the node meta under memberlist's 512 bytes.
const (
	// MaxNameLen bounds service names, keys and node names, in bytes.
	MaxNameLen = 255
	// MaxMetaLen bounds the encoded meta of one entry, in bytes: the sum
	// over its fields of len(key)+len(value)+2, plus 1.
	MaxMetaLen = 1024
	// MaxEntries bounds how many entries one node may track.
	MaxEntries = 10000
	// DefaultPermdownPeriod is how long a crashed node's entries are
	// kept (hidden) before being purged.
	DefaultPermdownPeriod = 20 * time.Minute
	// DefaultReconnectInterval is how often a crashed node is retried.
	DefaultReconnectInterval = 2 * time.Second
	// DefaultPort is the gossip port used when BindAddr has none.
	DefaultPort = 7946
)

// maxNodeMeta is memberlist's node meta limit (it panics above it).
const maxNodeMeta = memberlist.MetaMaxSize

// Config configures a Tracker. A nil *Config applies the defaults (every
// zero value below).
type Config struct {
	// Name is this node's name, Erlang-style NAME@HOST (node1@127.0.0.1).
	// Empty means "tracker@" + the advertised address.
	Name string
	// BindAddr is the gossip address (UDP and TCP). The zero value means
	// 0.0.0.0:7946; port 0 picks a free port (see Tracker.Addr).
	BindAddr netip.AddrPort
	// AdvertiseAddr is the address other nodes reach this one at. The
	// zero value lets memberlist choose (BindAddr, or a private address
	// when binding 0.0.0.0).
	AdvertiseAddr netip.AddrPort
	// SecretKey enables encryption: 16, 24 or 32 bytes (AES-128/192/256).
	// Nodes with another key (or none) can neither join nor read gossip.
	SecretKey []byte
	// Label is prepended to every packet and stream; nodes with another
	// label ignore each other. It keeps clusters on one network apart.
	Label string
	// PreviousName is the name this node had before a rename (for
	// example after a DHCP address change). Peers drop that node's
	// entries and mark the joins of this node with PrevNode.
	PreviousName string
	// PermdownPeriod is how long a crashed node's entries are kept
	// (hidden) in case it comes back with the same boot. Zero means
	// DefaultPermdownPeriod.
	PermdownPeriod time.Duration
	// ReconnectInterval is how often one crashed node is asked to rejoin
	// (healing partitions). Zero means DefaultReconnectInterval.
	ReconnectInterval time.Duration
	// Memberlist is the base memberlist configuration. Nil means the
	// tuned LAN profile (LANMemberlistConfig). Its Name, bind and
	// advertise addresses, keys, label, delegates and logger are
	// overwritten from this Config; every timing knob and the Transport
	// (for tests: a wrapping or mock transport) are kept.
	Memberlist *memberlist.Config
	// Logger receives diagnostics. Nil discards them.
	Logger *slog.Logger
}

// defaultConfig is what a nil *Config means: gossip on 0.0.0.0:7946,
// default permdown period, and LANMemberlistConfig timing.
func defaultConfig() *Config {
	return &Config{
		BindAddr:       netip.AddrPortFrom(netip.IPv4Unspecified(), DefaultPort),
		PermdownPeriod: DefaultPermdownPeriod,
		Memberlist:     LANMemberlistConfig(),
	}
}

// LANMemberlistConfig returns memberlist's DefaultLANConfig retuned for
// fast crash detection on a LAN without false alarms under moderate
// packet loss; the README's Benchmarks section has the measurements.
func LANMemberlistConfig() *memberlist.Config {
	c := memberlist.DefaultLANConfig()
	c.ProbeInterval = 400 * time.Millisecond  // Probe one member every 400 ms (default 1 s)
	c.ProbeTimeout = 300 * time.Millisecond   // Direct ack (default 500 ms); the gate's pings wait this long
	c.IndirectChecks = 3                      // Ask 3 members to probe for us on a missed ack (default)
	c.SuspicionMult = 2                       // Suspect for 2 * log10(N+1) * ProbeInterval before dead (default 4)
	c.SuspicionMaxTimeoutMult = 6             // Up to 6x that while confirmations are missing (default)
	c.AwarenessMaxMultiplier = 8              // A slow node stretches its own probe timeouts up to 8x (default)
	c.GossipInterval = 200 * time.Millisecond // Gossip every 200 ms (default); changes are also pushed at once (see push)
	c.GossipNodes = 4                         // To 4 random members (default 3)
	c.RetransmitMult = 4                      // Send each message 4 * log10(N+1) times (default)
	c.PushPullInterval = 10 * time.Second     // Full state exchange with one member (default 30 s)
	c.GossipToTheDeadTime = 15 * time.Second  // Keep gossiping to a dead member, so it can refute (default 30 s)
	c.TCPTimeout = 2 * time.Second            // Stream dial and I/O, joins included (default 10 s)
	c.DeadNodeReclaimTime = 5 * time.Second   // A dead name may come back at a new address (default never)
	c.HandoffQueueDepth = 4096                // Messages waiting for memberlist's handler (default 1024)
	c.EnableCompression = false               // LZW on every packet (a 64 KiB table per ping) was most of an idle agent's CPU (default on)
	return c
}

// validName checks a node, service or key name.
func validName(what, s string) error {
	if s == "" {
		return fmt.Errorf("tracker: empty %s", what)
	}
	if len(s) > MaxNameLen {
		return fmt.Errorf("tracker: %s %.20q... is %d bytes, limit %d", what, s, len(s), MaxNameLen)
	}
	return nil
}

// metaLen is the encoded size of an entry's meta as limited by MaxMetaLen.
func metaLen(m map[string]string) int {
	n := 1
	for k, v := range m {
		n += len(k) + len(v) + 2
	}
	return n
}

// ErrMetaTooLarge is returned by Track and Update for meta over MaxMetaLen.
var ErrMetaTooLarge = errors.New("tracker: entry meta too large")

// memberlistConfig builds the memberlist configuration from cfg.
func (cfg *Config) memberlistConfig(name string, meta []byte) (*memberlist.Config, error) {
	var mc memberlist.Config
	if cfg.Memberlist != nil {
		mc = *cfg.Memberlist
	} else {
		mc = *LANMemberlistConfig()
	}
	if len(meta) > maxNodeMeta {
		return nil, fmt.Errorf("tracker: node meta is %d bytes, memberlist allows %d: shorten PreviousName", len(meta), maxNodeMeta)
	}
	mc.Name = name
	bind := cfg.BindAddr
	if !bind.IsValid() {
		bind = netip.AddrPortFrom(netip.IPv4Unspecified(), DefaultPort)
	}
	mc.BindAddr = bind.Addr().String()
	mc.BindPort = int(bind.Port())
	mc.AdvertiseAddr, mc.AdvertisePort = "", mc.BindPort
	if a := cfg.AdvertiseAddr; a.IsValid() {
		mc.AdvertiseAddr = a.Addr().String()
		mc.AdvertisePort = int(a.Port())
		if a.Port() == 0 {
			mc.AdvertisePort = mc.BindPort
		}
	}
	mc.Label = cfg.Label
	mc.SecretKey = nil
	mc.Keyring = nil
	if len(cfg.SecretKey) > 0 {
		kr, err := memberlist.NewKeyring(nil, cfg.SecretKey)
		if err != nil {
			return nil, fmt.Errorf("tracker: SecretKey must be 16, 24 or 32 bytes: %w", err)
		}
		mc.Keyring = kr
		mc.GossipVerifyIncoming, mc.GossipVerifyOutgoing = true, true
	}
	mc.LogOutput = nil
	mc.Logger = log.New(io.Discard, "", 0)
	if cfg.Logger != nil {
		mc.Logger = log.New(&slogWriter{l: cfg.Logger}, "", 0)
	}
	return &mc, nil
}

// slogWriter forwards memberlist's log lines to a slog.Logger.
type slogWriter struct{ l *slog.Logger }

func (w *slogWriter) Write(p []byte) (int, error) {
	s := strings.TrimSpace(string(p))
	switch {
	case strings.Contains(s, "[ERR]"):
		w.l.Error(s)
	case strings.Contains(s, "[WARN]"):
		w.l.Warn(s)
	default:
		w.l.Debug(s)
	}
	return len(p), nil
}
