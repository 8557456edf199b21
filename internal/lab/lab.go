//go:build linux

package lab

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sync/errgroup"
)

// Lab is a running virtual LAN: hosts in network namespaces joined by a
// bridge in a namespace of its own.
type Lab struct {
	// Name is the lab's unique name, "ipfl-PID-N"; all its namespace names
	// start with it.
	Name string
	// Prefix is the LAN's subnet.
	Prefix netip.Prefix
	// Hosts are the hosts in address order: Hosts[i].Addr is the prefix's
	// address i+1.
	Hosts []*Host

	bridgeNS   string // bridge namespace name
	bridgeH    netns.NsHandle
	nsNames    []string // every namespace created, bridge first
	tmpOnce    sync.Once
	tmpDir     string
	tmpErr     error
	closeOnce  sync.Once
	closeErr   error
	mu         sync.Mutex // guards the fields below
	closed     bool
	procs      []*proc
	arps       []*slowARP
	partitions [][2][]*Host
}

var labSeq atomic.Uint32

// New starts a lab for a test and closes it in tb.Cleanup. It skips the test
// when not running as root, or fails it when the environment has CI=true.
func New(tb testing.TB, cfg Config) *Lab {
	tb.Helper()
	if os.Geteuid() != 0 {
		SkipOrFail(tb, "lab: needs root to create network namespaces (run the tests as root, e.g. `sudo go test`)")
	}
	l, err := Start(cfg)
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			SkipOrFail(tb, fmt.Sprintf("lab: not permitted to build a lab here (need CAP_SYS_ADMIN and CAP_NET_ADMIN): %v", err))
		}
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := l.Close(); err != nil {
			tb.Error(err)
		}
	})
	return l
}

// Start builds a lab. The caller must Close it; for tests use [New].
func Start(cfg Config) (*Lab, error) {
	n := labSeq.Add(1)
	if cfg.Hosts == 0 {
		cfg.Hosts = 2
	}
	if !cfg.Prefix.IsValid() {
		cfg.Prefix = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(n%250 + 1), 0, 0}), 24)
	}
	addrs, err := hostAddrs(cfg.Prefix, cfg.Hosts)
	if err != nil {
		return nil, err
	}
	l := &Lab{
		Name:    fmt.Sprintf("%s%d-%d", NamePrefix, os.Getpid(), n),
		Prefix:  cfg.Prefix.Masked(),
		Hosts:   make([]*Host, len(addrs)),
		bridgeH: netns.None(),
	}
	l.bridgeNS = l.Name + "-br"
	for i, a := range addrs {
		l.Hosts[i] = &Host{
			Name:  fmt.Sprintf("%s-h%d", l.Name, i+1),
			Addr:  a,
			MAC:   hostMAC(a),
			Iface: "eth0",
			lab:   l,
			port:  fmt.Sprintf("h%d", i+1),
			ns:    netns.None(),
		}
	}
	if err := l.build(); err != nil {
		return nil, errors.Join(err, l.Close())
	}
	return l, nil
}

// hostAddrs returns the first n host addresses of p (.1, .2, ...), leaving
// out the network and broadcast addresses.
func hostAddrs(p netip.Prefix, n int) ([]netip.Addr, error) {
	if !p.Addr().Is4() {
		return nil, fmt.Errorf("lab: prefix %v: only IPv4 prefixes are supported", p)
	}
	if n < 1 {
		return nil, fmt.Errorf("lab: %d hosts: need at least one", n)
	}
	p = p.Masked()
	if bits := 32 - p.Bits(); bits < 2 || bits < 31 && n > 1<<bits-2 {
		return nil, fmt.Errorf("lab: prefix %v has no room for %d hosts", p, n)
	}
	addrs := make([]netip.Addr, n)
	a := p.Addr()
	for i := range addrs {
		a = a.Next()
		addrs[i] = a
	}
	return addrs, nil
}

// hostMAC is the locally administered MAC 02:00:a:b:c:d of address a.b.c.d.
func hostMAC(a netip.Addr) net.HardwareAddr {
	b := a.As4()
	return net.HardwareAddr{0x02, 0x00, b[0], b[1], b[2], b[3]}
}

// build creates the bridge namespace and the hosts.
func (l *Lab) build() error {
	if err := ensureNSDir(); err != nil {
		return err
	}
	h, err := createNS(l.bridgeNS)
	if err != nil {
		return err
	}
	l.bridgeH = h
	l.nsNames = append(l.nsNames, l.bridgeNS)
	// The bridge and its ports would otherwise send IPv6 router
	// solicitations and MLD reports into the LAN.
	err = onThread(h, func() error {
		return writeSysctl("net/ipv6/conf/default/disable_ipv6", "1", "net/ipv6/conf/all/disable_ipv6", "1")
	})
	if err != nil {
		return err
	}
	bh, err := netlink.NewHandleAt(h)
	if err != nil {
		return fmt.Errorf("lab: netlink in %s: %w", l.bridgeNS, err)
	}
	defer bh.Close()
	off := false
	br := &netlink.Bridge{
		LinkAttrs:         netlink.LinkAttrs{Name: "br0", Flags: net.FlagUp},
		MulticastSnooping: &off,
	}
	if err := bh.LinkAdd(br); err != nil {
		return fmt.Errorf("lab: add bridge in %s: %w", l.bridgeNS, err)
	}
	for _, host := range l.Hosts {
		l.nsNames = append(l.nsNames, host.Name)
	}
	var g errgroup.Group
	g.SetLimit(2 * runtime.GOMAXPROCS(0))
	for _, host := range l.Hosts {
		g.Go(func() error { return host.build(bh, br.Index) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	ports := make([]string, len(l.Hosts))
	for i, h := range l.Hosts {
		ports[i] = h.port
	}
	if err := waitOperUp(bh, ports); err != nil {
		return fmt.Errorf("lab: %s: %w", l.bridgeNS, err)
	}
	return nil
}

// writeSysctl writes name/value pairs below /proc/sys in the calling
// thread's network namespace.
func writeSysctl(kv ...string) error {
	for i := 0; i+1 < len(kv); i += 2 {
		if err := os.WriteFile("/proc/sys/"+kv[i], []byte(kv[i+1]), 0); err != nil {
			return fmt.Errorf("lab: sysctl %s=%s: %w", strings.ReplaceAll(kv[i], "/", "."), kv[i+1], err)
		}
	}
	return nil
}

// track registers p to be killed at Close; it fails if the lab is closed.
func (l *Lab) track(p *proc) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	l.procs = append(l.procs, p)
	return nil
}

// tempDir returns the lab's private directory, created on first use.
func (l *Lab) tempDir() (string, error) {
	l.tmpOnce.Do(func() {
		l.tmpDir, l.tmpErr = os.MkdirTemp("", l.Name+"-")
	})
	return l.tmpDir, l.tmpErr
}

// Close stops everything running in the lab (slow ARP responders, avahi,
// commands given to [Host.Start] and any other process in its namespaces)
// and deletes the namespaces. It is safe to call more than once.
func (l *Lab) Close() error {
	l.closeOnce.Do(func() { l.closeErr = l.close() })
	return l.closeErr
}

func (l *Lab) close() error {
	l.mu.Lock()
	l.closed = true
	procs, arps := l.procs, l.arps
	l.procs, l.arps = nil, nil
	l.mu.Unlock()

	var errs []error
	for _, a := range arps {
		a.stop()
	}
	for _, p := range procs {
		p.kill()
	}
	errs = append(errs, killNS(l.nsNames, 5*time.Second))
	for _, p := range procs {
		p.wait()
	}
	for _, h := range l.Hosts {
		if h.ns.IsOpen() {
			h.ns.Close()
		}
	}
	if l.bridgeH.IsOpen() {
		l.bridgeH.Close()
	}
	for _, name := range l.nsNames {
		errs = append(errs, deleteNS(name))
	}
	for _, h := range l.Hosts {
		errs = append(errs, os.RemoveAll(h.etcDir()))
	}
	l.tmpOnce.Do(func() { l.tmpErr = ErrClosed }) // no new directory from now on
	if l.tmpDir != "" {
		errs = append(errs, os.RemoveAll(l.tmpDir))
	}
	return errors.Join(errs...)
}
