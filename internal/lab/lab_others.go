//go:build !linux

package lab

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"runtime"
	"testing"
	"time"
)

var errNotImplemented = fmt.Errorf("lab: network namespaces: not implemented on %s", runtime.GOOS)

// Lab is a virtual LAN; only available on Linux.
type Lab struct {
	// Name is the lab's unique name.
	Name string
	// Prefix is the LAN's subnet.
	Prefix netip.Prefix
	// Hosts are the hosts in address order.
	Hosts []*Host
}

// Host is one machine of the lab.
type Host struct {
	// Name is the host's network namespace.
	Name string
	// Addr is the host's IPv4 address on eth0.
	Addr netip.Addr
	// MAC is eth0's hardware address.
	MAC net.HardwareAddr
	// Iface is the name of the host's LAN interface, "eth0".
	Iface string
}

// Service is a DNS-SD service an avahi-daemon publishes.
type Service struct {
	// Type is the service type, e.g. "_ssh._tcp".
	Type string
	// Name is the instance name; empty means the host name.
	Name string
	// Port is the service's port.
	Port int
}

// New skips the test: labs need Linux.
func New(tb testing.TB, cfg Config) *Lab {
	tb.Helper()
	tb.Skip(errNotImplemented)
	return nil
}

// Start returns an error: labs need Linux.
func Start(cfg Config) (*Lab, error) { return nil, errNotImplemented }

// CleanStale returns an error: labs need Linux.
func CleanStale(all bool) ([]string, error) { return nil, errNotImplemented }

// Close does nothing.
func (l *Lab) Close() error { return nil }

// Partition returns an error: labs need Linux.
func (l *Lab) Partition(a, b []*Host) error { return errNotImplemented }

// Heal returns an error: labs need Linux.
func (l *Lab) Heal() error { return errNotImplemented }

// String returns the host's namespace name.
func (h *Host) String() string { return h.Name }

// Command returns a command that fails: labs need Linux.
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Err = errNotImplemented
	return cmd
}

// Do returns an error: labs need Linux.
func (h *Host) Do(fn func() error) error { return errNotImplemented }

// Start returns an error: labs need Linux.
func (h *Host) Start(cmd *exec.Cmd) error { return errNotImplemented }

// StartAvahi returns an error: labs need Linux.
func (h *Host) StartAvahi(hostname string, services ...Service) error { return errNotImplemented }

// StartAvahiDomain returns an error: labs need Linux.
func (h *Host) StartAvahiDomain(hostname, domain string, services ...Service) error {
	return errNotImplemented
}

// StartAvahiIPv6 returns an error: labs need Linux.
func (h *Host) StartAvahiIPv6(hostname string, services ...Service) error { return errNotImplemented }

// SetLoss returns an error: labs need Linux.
func (h *Host) SetLoss(percent int) error { return errNotImplemented }

// StartSlowARP returns an error: labs need Linux.
func (h *Host) StartSlowARP(delay time.Duration) error { return errNotImplemented }

// DHCP is a DHCP server and client in a lab; only available on Linux.
type DHCP struct{}

// StartDHCP returns an error: labs need Linux.
func (l *Lab) StartDHCP(server, client *Host, lease netip.Addr) (*DHCP, error) {
	return nil, errNotImplemented
}

// NewDHCP skips the test: labs need Linux.
func NewDHCP(tb testing.TB, l *Lab, server, client *Host, lease netip.Addr) *DHCP {
	tb.Helper()
	tb.Skip(errNotImplemented)
	return nil
}

// Move returns an error: labs need Linux.
func (d *DHCP) Move(ip netip.Addr) (time.Time, error) { return time.Time{}, errNotImplemented }

// Renew returns an error: labs need Linux.
func (d *DHCP) Renew() (time.Time, error) { return time.Time{}, errNotImplemented }

// Lease returns the invalid address.
func (d *DHCP) Lease() netip.Addr { return netip.Addr{} }

// Log returns nothing.
func (d *DHCP) Log() string { return "" }

// WaitDAD returns an error: labs need Linux.
func (h *Host) WaitDAD() error { return errNotImplemented }

// AddIPv6 returns an error: labs need Linux.
func (h *Host) AddIPv6(p netip.Prefix) error { return errNotImplemented }

// DropIPv4 returns an error: labs need Linux.
func (h *Host) DropIPv4() error { return errNotImplemented }

// IPv6Addrs returns an error: labs need Linux.
func (h *Host) IPv6Addrs() ([]netip.Addr, error) { return nil, errNotImplemented }
