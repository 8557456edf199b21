//go:build linux

package lab

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// AddIPv6 adds address p (such as 2001:db8::2/64) to the host's eth0,
// without duplicate address detection, so it is usable at once.
func (h *Host) AddIPv6(p netip.Prefix) error {
	if !p.Addr().Is6() {
		return fmt.Errorf("lab: %s: AddIPv6 %v: not an IPv6 prefix", h.Name, p)
	}
	return h.withEth(func(nh *netlink.Handle, eth netlink.Link) error {
		a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 128)}, Flags: unix.IFA_F_NODAD}
		return nh.AddrAdd(eth, a)
	})
}

// DropIPv4 removes the host's IPv4 addresses from eth0: the host is
// IPv6-only from then on (Addr keeps the address it had).
func (h *Host) DropIPv4() error {
	return h.withEth(func(nh *netlink.Handle, eth netlink.Link) error {
		addrs, err := nh.AddrList(eth, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		for _, a := range addrs {
			if err := nh.AddrDel(eth, &a); err != nil {
				return err
			}
		}
		return nil
	})
}

// IPv6Addrs returns the IPv6 addresses of the host's eth0, link-local ones
// with zone "eth0".
func (h *Host) IPv6Addrs() ([]netip.Addr, error) {
	var out []netip.Addr
	err := h.withEth(func(nh *netlink.Handle, eth netlink.Link) error {
		addrs, err := nh.AddrList(eth, netlink.FAMILY_V6)
		for _, a := range addrs {
			ip, _ := netip.AddrFromSlice(a.IP)
			if ip.IsLinkLocalUnicast() {
				ip = ip.WithZone(h.Iface)
			}
			out = append(out, ip)
		}
		return err
	})
	return out, err
}

// withEth runs fn with a netlink handle in the host's namespace and its
// eth0.
func (h *Host) withEth(fn func(nh *netlink.Handle, eth netlink.Link) error) error {
	if !h.ns.IsOpen() {
		return ErrClosed
	}
	nh, err := netlink.NewHandleAt(h.ns)
	if err != nil {
		return fmt.Errorf("lab: netlink in %s: %w", h.Name, err)
	}
	defer nh.Close()
	eth, err := nh.LinkByName(h.Iface)
	if err == nil {
		err = fn(nh, eth)
	}
	if err != nil {
		return fmt.Errorf("lab: %s: %w", h.Name, err)
	}
	return nil
}
