package rename

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// netlinkSource reads addresses and routes over rtnetlink and subscribes
// to the address multicast groups, all in the network namespace that
// Watch was called in.
type netlinkSource struct {
	ns     netns.NsHandle
	h      *netlink.Handle
	log    *slog.Logger
	family int // 4 or 6: events of the other family are no hint; 0: all
}

func openSource(log *slog.Logger, family int) (source, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ns, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("rename: get network namespace: %w", err)
	}
	// netns.None: open the socket on this thread, in ns, without setns
	// (which needs CAP_SYS_ADMIN).
	h, err := netlink.NewHandleAt(netns.None(), unix.NETLINK_ROUTE)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("rename: open netlink socket: %w", err)
	}
	return &netlinkSource{ns: ns, h: h, log: log, family: family}, nil
}

func (s *netlinkSource) close() error {
	s.h.Close()
	return s.ns.Close()
}

func (s *netlinkSource) read() (snapshot, error) {
	links, err := s.h.LinkList()
	if err != nil {
		return snapshot{}, fmt.Errorf("rename: list links: %w", err)
	}
	names := make(map[int]string, len(links))
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	list, err := s.h.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return snapshot{}, fmt.Errorf("rename: list addresses: %w", err)
	}
	snap := snapshot{addrs: make([]ifaceAddr, 0, len(list))}
	for _, a := range list {
		p, ok := prefixOf(a.IPNet)
		if !ok {
			continue
		}
		snap.addrs = append(snap.addrs, ifaceAddr{
			Ifindex: a.LinkIndex,
			Ifname:  names[a.LinkIndex],
			Prefix:  p,
			Flags:   addrFlags(a.Flags),
			Scope:   uint8(a.Scope),
		})
	}
	if snap.default4, err = s.defaultRoute(netlink.FAMILY_V4); err != nil {
		return snapshot{}, err
	}
	if snap.default6, err = s.defaultRoute(netlink.FAMILY_V6); err != nil {
		return snapshot{}, err
	}
	return snap, nil
}

// defaultRoute returns the interface of the main table's default route
// with the lowest metric, 0 if there is none.
func (s *netlinkSource) defaultRoute(family int) (int, error) {
	routes, err := s.h.RouteListFiltered(family, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return 0, fmt.Errorf("rename: list routes: %w", err)
	}
	index, metric := 0, 0
	for _, r := range routes {
		if r.Dst != nil {
			if ones, _ := r.Dst.Mask.Size(); ones != 0 {
				continue
			}
		}
		link := r.LinkIndex
		if link == 0 && len(r.MultiPath) > 0 {
			link = r.MultiPath[0].LinkIndex
		}
		if link != 0 && (index == 0 || r.Priority < metric) {
			index, metric = link, r.Priority
		}
	}
	return index, nil
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	ip, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	p := netip.PrefixFrom(ip.Unmap(), ones)
	return p, p.IsValid()
}

// subscribe subscribes to address and route events (ListExisting false:
// they are hints, the addresses and routes are read again after them).
// Route events make a move of the default route count too.
func (s *netlinkSource) subscribe() (<-chan struct{}, func(), error) {
	addrs := make(chan netlink.AddrUpdate, 64)
	routes := make(chan netlink.RouteUpdate, 64)
	done := make(chan struct{})
	logErr := func(err error) {
		// Also called with "use of closed file" when stopped.
		s.log.Debug("rename: netlink subscription", "err", err)
	}
	runtime.LockOSThread()
	var ns *netns.NsHandle
	if cur, err := netns.Get(); err == nil {
		if !cur.Equal(s.ns) {
			ns = &s.ns // needs CAP_SYS_ADMIN
		}
		cur.Close()
	}
	err := netlink.AddrSubscribeWithOptions(addrs, done,
		netlink.AddrSubscribeOptions{Namespace: ns, ErrorCallback: logErr})
	if err != nil {
		runtime.UnlockOSThread()
		close(done)
		return nil, nil, fmt.Errorf("rename: subscribe to address events: %w", err)
	}
	err = netlink.RouteSubscribeWithOptions(routes, done,
		netlink.RouteSubscribeOptions{Namespace: ns, ErrorCallback: logErr})
	runtime.UnlockOSThread()
	if err != nil {
		close(done)
		for range addrs { // netlink closes it after its socket
		}
		return nil, nil, fmt.Errorf("rename: subscribe to route events: %w", err)
	}
	hints := make(chan struct{}, 1)
	finished := make(chan struct{})
	stopping := sync.OnceFunc(func() { close(done) })
	go func() {
		defer close(finished)
		defer close(hints)
		for {
			var ok, relevant bool
			select {
			case u, recv := <-addrs:
				ok, relevant = recv, s.wants(u.LinkAddress.IP.To4() != nil)
			case u, recv := <-routes:
				ok, relevant = recv, s.wants(u.Family != unix.AF_INET6)
			}
			if !ok {
				break // one subscription ended: end both
			}
			if !relevant {
				continue // the other family's events (IPv6 DAD, say) must not delay a read
			}
			select {
			case hints <- struct{}{}:
			default:
			}
		}
		stopping()
		for range addrs {
		}
		for range routes {
		}
	}()
	stop := sync.OnceFunc(func() {
		stopping() // netlink closes its sockets, then its channels
		<-finished
	})
	return hints, stop, nil
}

// wants reports whether an event of an IPv4 (or else IPv6) address or
// route is a hint for the watched family.
func (s *netlinkSource) wants(v4 bool) bool {
	return s.family == 0 || (s.family == 4) == v4
}
