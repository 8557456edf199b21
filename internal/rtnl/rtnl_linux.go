package rtnl

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

var errMalformed = errors.New("rtnl: malformed message")

// recvBuf is the size of a receive buffer: the kernel fills a dump's
// datagrams up to the reader's buffer size, 32 KB at most.
const recvBuf = 64 << 10

// Addr is an interface address (RTM_NEWADDR).
type Addr struct {
	Index  int          // interface index
	Prefix netip.Prefix // the local address and its subnet length
	Flags  uint32       // IFA_F_*
	Scope  uint8        // RT_SCOPE_*
}

// Route is a route (RTM_NEWROUTE), reduced to what choosing a default
// route needs.
type Route struct {
	Table    uint32
	DstLen   uint8 // 0: a default route
	Index    int   // output interface, or the first nexthop's; 0 if none
	Priority uint32
	Cloned   bool // a cache entry (RTM_F_CLONED), not a configured route
}

// Neigh is a neighbour table entry (RTM_NEWNEIGH).
type Neigh struct {
	Index int
	Addr  netip.Addr
	MAC   net.HardwareAddr // nil if none
	State uint16           // NUD_*
}

// Conn is a netlink socket for dumps. Its methods may be called from
// any goroutine, one at a time (they lock).
type Conn struct {
	mu  sync.Mutex
	fd  int
	seq uint32
	buf []byte // for answers, made by the first dump
}

// Dial opens a netlink route socket in the calling thread's network
// namespace.
func Dial() (*Conn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("rtnl: open netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("rtnl: bind netlink socket: %w", err)
	}
	return &Conn{fd: fd}, nil
}

// Close closes the socket.
func (c *Conn) Close() error { return unix.Close(c.fd) }

// dump sends a dump request of typ with body and returns the messages of
// the answer.
func (c *Conn) dump(typ uint16, body []byte) ([]syscall.NetlinkMessage, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	req := make([]byte, unix.NLMSG_HDRLEN, unix.NLMSG_HDRLEN+len(body))
	req = append(req, body...)
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], typ)
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	binary.NativeEndian.PutUint32(req[8:], c.seq)
	if err := unix.Sendto(c.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, err
	}
	if c.buf == nil {
		c.buf = make([]byte, recvBuf)
	}
	buf := c.buf
	var out []syscall.NetlinkMessage
	for {
		n, from, err := unix.Recvfrom(c.fd, buf, 0)
		if err != nil {
			return nil, err
		}
		if sa, ok := from.(*unix.SockaddrNetlink); !ok || sa.Pid != 0 {
			continue // not from the kernel
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			if m.Header.Seq != c.seq {
				continue // the answer to an earlier, abandoned dump
			}
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return out, nil
			case unix.NLMSG_ERROR:
				if len(m.Data) < 4 {
					return nil, errMalformed
				}
				if e := int32(binary.NativeEndian.Uint32(m.Data)); e != 0 {
					return nil, syscall.Errno(-e)
				}
				return out, nil
			}
			m.Data = append([]byte(nil), m.Data...) // buf is reused
			out = append(out, m)
		}
	}
}

// list dumps typ with body and parses the body of each answer of type
// want, keeping the values parse says ok to.
func list[T any](c *Conn, what string, typ, want uint16, body []byte, parse func([]byte) (T, bool, error)) ([]T, error) {
	msgs, err := c.dump(typ, body)
	if err != nil {
		return nil, fmt.Errorf("rtnl: list %s: %w", what, err)
	}
	var out []T
	for _, m := range msgs {
		if m.Header.Type != want {
			continue
		}
		v, ok, err := parse(m.Data)
		if err != nil {
			return nil, fmt.Errorf("rtnl: list %s: %w", what, err)
		}
		if ok {
			out = append(out, v)
		}
	}
	return out, nil
}

// Links returns the interface names by index.
func (c *Conn) Links() (map[int]string, error) {
	type link struct {
		index int
		name  string
	}
	links, err := list(c, "links", unix.RTM_GETLINK, unix.RTM_NEWLINK, make([]byte, unix.SizeofIfInfomsg),
		func(b []byte) (link, bool, error) {
			index, name, err := parseLink(b)
			return link{index, name}, true, err
		})
	if err != nil {
		return nil, err
	}
	out := make(map[int]string, len(links))
	for _, l := range links {
		out[l.index] = l.name
	}
	return out, nil
}

// Addrs returns the addresses of every interface, both families.
func (c *Conn) Addrs() ([]Addr, error) {
	return list(c, "addresses", unix.RTM_GETADDR, unix.RTM_NEWADDR, make([]byte, unix.SizeofIfAddrmsg), parseAddr)
}

// Routes returns the routes of family (unix.AF_INET or AF_INET6), every
// table.
func (c *Conn) Routes(family uint8) ([]Route, error) {
	body := make([]byte, unix.SizeofRtMsg)
	body[0] = family
	return list(c, "routes", unix.RTM_GETROUTE, unix.RTM_NEWROUTE, body, func(b []byte) (Route, bool, error) {
		r, err := parseRoute(b)
		return r, err == nil && b[0] == family, err
	})
}

// Neighs returns the neighbour entries of family on interface index.
func (c *Conn) Neighs(index int, family uint8) ([]Neigh, error) {
	body := make([]byte, unix.SizeofNdMsg)
	body[0] = family
	binary.NativeEndian.PutUint32(body[4:], uint32(index))
	return list(c, "neighbours", unix.RTM_GETNEIGH, unix.RTM_NEWNEIGH, body, func(b []byte) (Neigh, bool, error) {
		n, err := parseNeigh(b)
		return n, err == nil && n.Index == index && (family == unix.AF_UNSPEC || n.Addr.Is4() == (family == unix.AF_INET)), err
	})
}

// Neighbors dumps the neighbour entries of family on interface index in
// the calling thread's namespace, on a socket of its own.
func Neighbors(index int, family uint8) ([]Neigh, error) {
	c, err := Dial()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.Neighs(index, family)
}

// Events is a subscription to rtnetlink multicast groups.
type Events struct {
	f   *os.File
	buf []byte
}

// Event is one notification: its message type (unix.RTM_NEWADDR...) and
// the address family it is about.
type Event struct {
	Type   uint16
	Family uint8
}

// Subscribe joins groups (unix.RTMGRP_*) in the calling thread's network
// namespace.
func Subscribe(groups uint32) (*Events, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("rtnl: open netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: groups}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("rtnl: join netlink groups: %w", err)
	}
	return &Events{f: os.NewFile(uintptr(fd), "rtnetlink"), buf: make([]byte, recvBuf)}, nil // non-blocking: Go's poller reads it
}

// ErrOverrun is returned by Read when the kernel dropped notifications
// (ENOBUFS): the caller's view may be stale, and the subscription goes on.
var ErrOverrun = errors.New("rtnl: notifications lost (receive buffer overrun)")

// Read waits for notifications and returns them. After Close it returns
// an error. It is not safe for concurrent use.
func (e *Events) Read() ([]Event, error) {
	buf := e.buf
	n, err := e.f.Read(buf)
	if errors.Is(err, unix.ENOBUFS) {
		return nil, ErrOverrun
	}
	if err != nil {
		return nil, err
	}
	msgs, err := syscall.ParseNetlinkMessage(buf[:n])
	if err != nil {
		return nil, err
	}
	out := make([]Event, 0, len(msgs))
	for _, m := range msgs {
		if len(m.Data) > 0 {
			out = append(out, Event{Type: m.Header.Type, Family: m.Data[0]})
		}
	}
	return out, nil
}

// Close ends the subscription; a Read in progress returns.
func (e *Events) Close() error { return e.f.Close() }
