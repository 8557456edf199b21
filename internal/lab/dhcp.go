//go:build linux

package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// dhcpLeaseTimeout bounds how long StartDHCP and Move wait for a lease;
// dhcpStepTimeout bounds Renew and the other steps of Move.
const (
	dhcpLeaseTimeout = 10 * time.Second
	dhcpStepTimeout  = 5 * time.Second
)

// dhcpHook is udhcpc's event script: it applies the lease with ip and logs
// each event with the time the address was in place. It never touches
// /etc/resolv.conf, which the namespaces share with the machine.
const dhcpHook = `#!/bin/sh
case "$1" in
deconfig)
	ip -4 addr flush dev "$interface" scope global
	ip link set "$interface" up
	;;
bound|renew)
	ip addr replace "$ip/$mask" dev "$interface"
	;;
esac
echo "$1 ${ip:-none} $(date +%s%N)" >>"$EVENTS"
`

// DHCP is a real DHCP server (dnsmasq) on one lab host serving one
// reserved address to a real client (busybox udhcpc) on another. Both
// processes are killed when the lab closes.
type DHCP struct {
	dir      string
	hosts    string // dnsmasq's hosts file
	eventLog string // the hook script's log of events
	client   *Host
	dnsmasq  *proc
	udhcpc   *proc
	mu       sync.Mutex // serializes Move and Renew
}

// dhcpEvent is one event of the client's hook script.
type dhcpEvent struct {
	kind string     // udhcpc's event: "deconfig", "bound", "renew", "nak", ...
	addr netip.Addr // the leased address; invalid for events without one
	at   time.Time  // when the hook ran, after it applied the address
}

// StartDHCP flushes client's IPv4 addresses and gives it lease by DHCP:
// dnsmasq runs on server, handing out a pool of the lab's prefix
// (.100-.150, 2 minute leases) and reserving lease for client's MAC, and
// udhcpc runs on client with a hook script of its own that applies the
// lease with `ip addr` (Debian's default one would rewrite
// /etc/resolv.conf). StartDHCP returns once the lease is bound. Needs
// dnsmasq and busybox.
func (l *Lab) StartDHCP(server, client *Host, lease netip.Addr) (*DHCP, error) {
	for _, tool := range []string{"dnsmasq", "busybox"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("lab: %s not found (install dnsmasq-base and busybox): %w", tool, err)
		}
	}
	tmp, err := l.tempDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(tmp, "dhcp-"+client.port+"-")
	if err != nil {
		return nil, fmt.Errorf("lab: dhcp: %w", err)
	}
	d := &DHCP{
		dir:      dir,
		hosts:    filepath.Join(dir, "hosts"),
		eventLog: filepath.Join(dir, "events"),
		client:   client,
	}
	if err := d.reserve(lease); err != nil {
		return nil, err
	}
	hook := filepath.Join(dir, "hook.sh")
	if err := os.WriteFile(hook, []byte(dhcpHook), 0o755); err != nil {
		return nil, fmt.Errorf("lab: dhcp: %w", err)
	}
	if out, err := client.Command(context.Background(), "ip", "-4", "addr", "flush", "dev", client.Iface).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("lab: %s: flush %s: %v: %s", client.Name, client.Iface, err, out)
	}
	mask := net.IP(net.CIDRMask(l.Prefix.Bits(), 32)).String()
	d.dnsmasq, err = server.startReaped(server.Command(context.Background(), "dnsmasq",
		"--keep-in-foreground", "--conf-file=/dev/null", "--port=0",
		"--interface="+server.Iface, "--bind-interfaces", "--no-ping",
		"--dhcp-range="+l.Addr(100).String()+","+l.Addr(150).String()+","+mask+",2m",
		"--dhcp-hostsfile="+d.hosts, "--dhcp-leasefile="+filepath.Join(dir, "leases"), "--dhcp-authoritative",
		"--pid-file="+filepath.Join(dir, "dnsmasq.pid"), "--user=root", "--log-dhcp",
		"--log-facility="+filepath.Join(dir, "dnsmasq.log")))
	if err != nil {
		return nil, err
	}
	udhcpc := client.Command(context.Background(), "busybox", "udhcpc", "-f", "-i", client.Iface, "-s", hook,
		"-p", filepath.Join(dir, "udhcpc.pid"), "-t", "5", "-T", "1", "-A", "2")
	udhcpc.Env = append(os.Environ(), "EVENTS="+d.eventLog)
	if d.udhcpc, err = client.startReaped(udhcpc); err != nil {
		return nil, err
	}
	if _, err := d.wait("bound", lease, 0, dhcpLeaseTimeout); err != nil {
		return nil, err
	}
	return d, nil
}

// NewDHCP is [Lab.StartDHCP] for a test: it fails tb when the lease does
// not come, and logs [DHCP.Log] at the end of a test that failed.
func NewDHCP(tb testing.TB, l *Lab, server, client *Host, lease netip.Addr) *DHCP {
	tb.Helper()
	d, err := l.StartDHCP(server, client, lease)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Log(d.Log())
		}
	})
	return d
}

// startReaped starts cmd, waits for it in a goroutine of its own and has
// the lab kill it at Close.
func (h *Host) startReaped(cmd *exec.Cmd) (*proc, error) {
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("lab: %s: %w", h.Name, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait() // killed at Close: the error says so
		close(p.done)
	}()
	if err := h.lab.track(p); err != nil {
		p.kill()
		p.wait()
		return nil, err
	}
	return p, nil
}

// reserve makes dnsmasq's hosts file give ip to the client, replacing the
// file atomically.
func (d *DHCP) reserve(ip netip.Addr) error {
	tmp := d.hosts + ".tmp"
	if err := os.WriteFile(tmp, fmt.Appendf(nil, "%s,%s\n", d.client.MAC, ip), 0o644); err != nil {
		return fmt.Errorf("lab: dhcp: %w", err)
	}
	if err := os.Rename(tmp, d.hosts); err != nil {
		return fmt.Errorf("lab: dhcp: %w", err)
	}
	return nil
}

// Move reserves ip for the client instead, makes dnsmasq read the
// reservation (SIGHUP) and udhcpc renew (SIGUSR1): the server refuses the
// renewal (NAK), the client drops its address and asks anew, and gets ip
// about 3 s later. Move returns when the hook has put ip in place, and the
// time it did.
func (d *DHCP) Move(ip netip.Addr) (time.Time, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.reserve(ip); err != nil {
		return time.Time{}, err
	}
	reads := func() int { return strings.Count(d.serverLog(), "read "+d.hosts) }
	before := reads()
	if err := d.dnsmasq.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		return time.Time{}, fmt.Errorf("lab: dhcp: signal dnsmasq: %w", err)
	}
	if err := d.poll(dhcpStepTimeout, "dnsmasq reading its hosts file", func() bool { return reads() > before }); err != nil {
		return time.Time{}, err
	}
	skip := len(d.events())
	if err := d.udhcpc.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		return time.Time{}, fmt.Errorf("lab: dhcp: signal udhcpc: %w", err)
	}
	return d.wait("bound", ip, skip, dhcpLeaseTimeout)
}

// Renew makes udhcpc renew its lease (SIGUSR1), which the server grants
// with the same address, and returns when the hook ran for the renewal,
// and the time it did.
func (d *DHCP) Renew() (time.Time, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	lease := d.Lease()
	skip := len(d.events())
	if err := d.udhcpc.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		return time.Time{}, fmt.Errorf("lab: dhcp: signal udhcpc: %w", err)
	}
	return d.wait("renew", lease, skip, dhcpStepTimeout)
}

// Lease returns the client's address after the hook's latest event:
// invalid when it has none.
func (d *DHCP) Lease() netip.Addr {
	evs := d.events()
	if len(evs) == 0 {
		return netip.Addr{}
	}
	return evs[len(evs)-1].addr
}

// events returns the events of the client's hook script so far, oldest
// first.
func (d *DHCP) events() []dhcpEvent {
	b, _ := os.ReadFile(d.eventLog) // none yet if missing
	var evs []dhcpEvent
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue // the last line, or one being written
		}
		ns, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			continue
		}
		ip, _ := netip.ParseAddr(f[1]) // "none": invalid
		evs = append(evs, dhcpEvent{kind: f[0], addr: ip, at: time.Unix(0, ns)})
	}
	return evs
}

// Log returns dnsmasq's log and the hook's events, for a failing test to
// show.
func (d *DHCP) Log() string {
	ev, _ := os.ReadFile(d.eventLog)
	return "dnsmasq log:\n" + d.serverLog() + "\nhook events:\n" + string(ev)
}

func (d *DHCP) serverLog() string {
	b, _ := os.ReadFile(filepath.Join(d.dir, "dnsmasq.log"))
	return string(b)
}

// wait polls the hook's log for an event kind with ip after the first
// skip events and returns its time.
func (d *DHCP) wait(kind string, ip netip.Addr, skip int, within time.Duration) (time.Time, error) {
	var at time.Time
	err := d.poll(within, fmt.Sprintf("udhcpc event %s %s", kind, ip), func() bool {
		evs := d.events()
		for _, e := range evs[min(skip, len(evs)):] {
			if e.kind == kind && e.addr == ip {
				at = e.at
				return true
			}
		}
		return false
	})
	return at, err
}

// poll checks cond until it holds, within passes or a DHCP process exits.
func (d *DHCP) poll(within time.Duration, what string, cond func() bool) error {
	errNotYet := errors.New("not yet")
	err := poll(within, func() error {
		if cond() {
			return nil
		}
		for name, p := range map[string]*proc{"dnsmasq": d.dnsmasq, "udhcpc": d.udhcpc} {
			select {
			case <-p.done:
				return stopPolling{fmt.Errorf("lab: dhcp: %s exited (%v) while waiting for %s\n%s", name, p.cmd.ProcessState, what, d.Log())}
			default:
			}
		}
		return errNotYet
	})
	if err == errNotYet {
		return fmt.Errorf("lab: dhcp: no %s after %v\n%s", what, within, d.Log())
	}
	return err
}
