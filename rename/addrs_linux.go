package rename

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"sync"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/ipfinder-go/ipfinder/internal/rtnl"
)

// netlinkSource reads addresses and routes over rtnetlink and subscribes
// to the address and route multicast groups, all in the network namespace
// that Watch was called in.
type netlinkSource struct {
	ns     netns.NsHandle
	c      *rtnl.Conn
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
	c, err := rtnl.Dial() // in ns, for good
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("rename: %w", err)
	}
	return &netlinkSource{ns: ns, c: c, log: log, family: family}, nil
}

func (s *netlinkSource) close() error {
	s.c.Close()
	return s.ns.Close()
}

func (s *netlinkSource) read() (snapshot, error) {
	names, err := s.c.Links()
	if err != nil {
		return snapshot{}, fmt.Errorf("rename: %w", err)
	}
	list, err := s.c.Addrs()
	if err != nil {
		return snapshot{}, fmt.Errorf("rename: %w", err)
	}
	snap := snapshot{addrs: make([]ifaceAddr, 0, len(list))}
	for _, a := range list {
		p := netip.PrefixFrom(a.Prefix.Addr().Unmap(), a.Prefix.Bits())
		if !p.IsValid() { // an IPv4-mapped IPv6 address: not ours to choose
			continue
		}
		snap.addrs = append(snap.addrs, ifaceAddr{
			Ifindex: a.Index,
			Ifname:  names[a.Index],
			Prefix:  p,
			Flags:   addrFlags(a.Flags),
			Scope:   a.Scope,
		})
	}
	if snap.default4, err = s.defaultRoute(unix.AF_INET); err != nil {
		return snapshot{}, err
	}
	if snap.default6, err = s.defaultRoute(unix.AF_INET6); err != nil {
		return snapshot{}, err
	}
	return snap, nil
}

// defaultRoute returns the interface of the main table's default route
// with the lowest metric, 0 if there is none.
func (s *netlinkSource) defaultRoute(family uint8) (int, error) {
	routes, err := s.c.Routes(family)
	if err != nil {
		return 0, fmt.Errorf("rename: %w", err)
	}
	return defaultIndex(routes), nil
}

// defaultIndex returns the interface of the main table's default route
// in routes with the lowest metric, 0 if there is none.
func defaultIndex(routes []rtnl.Route) int {
	index, metric := 0, uint32(0)
	for _, r := range routes {
		if r.Table != unix.RT_TABLE_MAIN || r.Cloned || r.DstLen != 0 || r.Index == 0 {
			continue
		}
		if index == 0 || r.Priority < metric {
			index, metric = r.Index, r.Priority
		}
	}
	return index
}

// subscribe subscribes to address and route events: hints, after which
// the addresses and routes are read again. Route events make a move of
// the default route count too.
func (s *netlinkSource) subscribe() (<-chan struct{}, func(), error) {
	ev, err := s.events()
	if err != nil {
		return nil, nil, err
	}
	hints := make(chan struct{}, 1)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		defer close(hints)
		for {
			events, err := ev.Read()
			relevant := errors.Is(err, rtnl.ErrOverrun) // lost some: read again
			if err != nil && !relevant {
				// Also "file already closed" when stopped.
				s.log.Debug("rename: netlink subscription", "err", err)
				return
			}
			for _, e := range events {
				// The other family's events (IPv6 DAD, say) must not delay a read.
				relevant = relevant || s.wants(e.Family != unix.AF_INET6)
			}
			if relevant {
				select {
				case hints <- struct{}{}:
				default:
				}
			}
		}
	}()
	stop := sync.OnceFunc(func() {
		ev.Close()
		<-finished
	})
	return hints, stop, nil
}

// events subscribes in the source's namespace: from a thread in another
// one, it enters it to open the socket (which needs CAP_SYS_ADMIN).
func (s *netlinkSource) events() (*rtnl.Events, error) {
	const groups = unix.RTMGRP_IPV4_IFADDR | unix.RTMGRP_IPV6_IFADDR | unix.RTMGRP_IPV4_ROUTE | unix.RTMGRP_IPV6_ROUTE
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cur, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("rename: get network namespace: %w", err)
	}
	defer cur.Close()
	if !cur.Equal(s.ns) {
		if err := netns.Set(s.ns); err != nil {
			return nil, fmt.Errorf("rename: enter the watched network namespace: %w", err)
		}
		defer func() {
			if netns.Set(cur) != nil {
				runtime.LockOSThread() // stuck in s.ns: the thread ends with its goroutine
			}
		}()
	}
	ev, err := rtnl.Subscribe(groups)
	if err != nil {
		return nil, fmt.Errorf("rename: subscribe to address and route events: %w", err)
	}
	return ev, nil
}

// wants reports whether an event of an IPv4 (or else IPv6) address or
// route is a hint for the watched family.
func (s *netlinkSource) wants(v4 bool) bool {
	return s.family == 0 || (s.family == 4) == v4
}
