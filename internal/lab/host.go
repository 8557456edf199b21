//go:build linux

package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Host is one machine of the lab: a network namespace with the interface
// eth0 on the lab's bridge.
type Host struct {
	// Name is the host's network namespace, as `ip netns` knows it.
	Name string
	// Addr is the host's IPv4 address on eth0.
	Addr netip.Addr
	// MAC is eth0's hardware address.
	MAC net.HardwareAddr
	// Iface is the name of the host's LAN interface, "eth0".
	Iface string

	lab  *Lab
	port string // name of the veth peer on the bridge
	ns   netns.NsHandle
}

// build creates the host's namespace and plugs it into the bridge br of the
// bridge namespace handle bh.
func (h *Host) build(bh *netlink.Handle, br int) error {
	ns, err := createNS(h.Name)
	if err != nil {
		return err
	}
	h.ns = ns
	veth := &netlink.Veth{
		LinkAttrs:        netlink.LinkAttrs{Name: h.port, MasterIndex: br, Flags: net.FlagUp},
		PeerName:         h.Iface,
		PeerHardwareAddr: h.MAC,
		PeerNamespace:    netlink.NsFd(ns),
	}
	if err := bh.LinkAdd(veth); err != nil {
		return fmt.Errorf("lab: add veth for %s: %w", h.Name, err)
	}
	nh, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("lab: netlink in %s: %w", h.Name, err)
	}
	defer nh.Close()
	if err := nh.LinkSetUp(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: 1}}); err != nil {
		return fmt.Errorf("lab: %s: set lo up: %w", h.Name, err)
	}
	eth, err := nh.LinkByName(h.Iface)
	if err != nil {
		return fmt.Errorf("lab: %s: %w", h.Name, err)
	}
	bits := h.lab.Prefix.Bits()
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: h.Addr.AsSlice(), Mask: net.CIDRMask(bits, 32)}}
	if err := nh.AddrAdd(eth, addr); err != nil {
		return fmt.Errorf("lab: %s: add address %v: %w", h.Name, h.Addr, err)
	}
	if err := nh.LinkSetUp(eth); err != nil {
		return fmt.Errorf("lab: %s: set %s up: %w", h.Name, h.Iface, err)
	}
	if err := waitOperUp(nh, []string{h.Iface}); err != nil {
		return fmt.Errorf("lab: %s: %w", h.Name, err)
	}
	mcast := &netlink.Route{
		LinkIndex: eth.Attrs().Index,
		Dst:       &net.IPNet{IP: net.IPv4(224, 0, 0, 0).To4(), Mask: net.CIDRMask(4, 32)},
		Scope:     netlink.SCOPE_LINK,
	}
	if err := nh.RouteAdd(mcast); err != nil {
		return fmt.Errorf("lab: %s: add multicast route: %w", h.Name, err)
	}
	return h.UseResolver(netip.Addr{})
}

// linkReadyTimeout bounds how long building a lab waits for the kernel to
// activate its links.
const linkReadyTimeout = 10 * time.Second

// waitOperUp waits until the links named names, seen through nh, are
// operationally up. The kernel activates a link that came up (its qdisc,
// and the bridge port state) asynchronously in its linkwatch worker, which
// needs the RTNL lock that tearing down other labs' namespaces holds for a
// while; until then every packet sent on it is dropped.
func waitOperUp(nh *netlink.Handle, names []string) error {
	deadline := time.Now().Add(linkReadyTimeout)
	for {
		links, err := nh.LinkList()
		if err != nil {
			return err
		}
		state := make(map[string]netlink.LinkOperState, len(links))
		for _, l := range links {
			state[l.Attrs().Name] = l.Attrs().OperState
		}
		var down []string
		for _, n := range names {
			if state[n] != netlink.OperUp {
				down = append(down, n)
			}
		}
		if len(down) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("links %v not up after %v", down, linkReadyTimeout)
		}
		time.Sleep(2 * time.Millisecond) // poll interval
	}
}

// String returns the host's namespace name.
func (h *Host) String() string { return h.Name }

// Command returns a command that runs name with args inside the host's
// namespace, through `ip netns exec`. It runs in its own process group,
// which is killed when ctx is done, and gets SIGKILL if this process dies.
//
// At Close the lab kills every process found in its namespaces, but one
// started so shortly before that it has not entered the namespace yet
// escapes; give long-running commands to [Host.Start], which kills them by
// PID.
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.Name, name}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error {
		(&proc{cmd: cmd}).kill()
		return nil
	}
	return cmd
}

// Do runs fn on a locked OS thread switched into the host's namespace, then
// switches the thread back. Sockets opened inside fn stay in the host's
// namespace after Do returns, so the usual pattern is to open a socket in
// fn and use it afterwards. Goroutines started by fn do not run in the
// namespace. If the thread cannot be switched back, the runtime discards
// it. A panic in fn is re-raised in the caller. Do must not race with
// [Lab.Close].
//
// Never run code under Do that opens sockets later or on other goroutines:
// those land in the root namespace, on this machine's real network.
// memberlist (inside tracker) and the ipfinder and sdjoin commands all do;
// run them in a child process through [Host.Command] instead. (scan's
// DialMDNS and BrowseMDNS open their one socket before they return, and
// only read from it on another goroutine.)
func (h *Host) Do(fn func() error) error {
	if !h.ns.IsOpen() {
		return ErrClosed
	}
	return onThread(h.ns, fn)
}

// Start starts cmd (usually made by [Host.Command]) and kills it, with its
// process group, when the lab closes. The caller may Wait for cmd; if it
// does not, the exited process stays a zombie until this process ends.
func (h *Host) Start(cmd *exec.Cmd) error {
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("lab: %s: %w", h.Name, err)
	}
	p := &proc{cmd: cmd}
	if err := h.lab.track(p); err != nil {
		p.kill()
		p.wait()
		return err
	}
	return nil
}

// proc is a process the lab kills at Close.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process was reaped by the lab; nil if the caller reaps it
}

// kill sends SIGKILL to the process and its group.
func (p *proc) kill() {
	pid := p.cmd.Process.Pid
	if a := p.cmd.SysProcAttr; a != nil && a.Setpgid && a.Pgid == 0 {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// wait waits until the process has exited, without reaping it if the
// caller owns Wait.
func (p *proc) wait() {
	if p.done != nil {
		<-p.done
		return
	}
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, p.cmd.Process.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			return // exited, or already reaped by the caller (ECHILD)
		}
	}
}

// dadTimeout bounds how long WaitDAD waits.
const dadTimeout = 10 * time.Second

// WaitDAD waits until the host has no tentative IPv6 address. A fresh lab
// interface finishes duplicate address detection of its link-local
// address about 2 s after it came up; the address event it then sends
// would disturb a test measuring reactions to address changes.
func (h *Host) WaitDAD() error {
	deadline := time.Now().Add(dadTimeout)
	for {
		out, err := h.Command(context.Background(), "ip", "-6", "addr", "show", "tentative").Output()
		if err == nil && len(bytes.TrimSpace(out)) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("lab: %s: IPv6 duplicate address detection not done after %v (%v): %s", h.Name, dadTimeout, err, out)
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
}
