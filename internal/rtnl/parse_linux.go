package rtnl

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"

	"golang.org/x/sys/unix"
)

// attrs calls fn with the type and payload of each route attribute
// (struct rtattr) in b, and fails on one whose length runs past b.
func attrs(b []byte, fn func(typ uint16, v []byte)) error {
	for len(b) >= unix.SizeofRtAttr {
		l := int(binary.NativeEndian.Uint16(b))
		if l < unix.SizeofRtAttr || l > len(b) {
			return errMalformed
		}
		fn(binary.NativeEndian.Uint16(b[2:])&^(unix.NLA_F_NESTED|unix.NLA_F_NET_BYTEORDER), b[unix.SizeofRtAttr:l])
		l = (l + unix.RTA_ALIGNTO - 1) &^ (unix.RTA_ALIGNTO - 1)
		b = b[min(l, len(b)):]
	}
	return nil
}

func u32(v []byte) (uint32, bool) {
	if len(v) < 4 {
		return 0, false
	}
	return binary.NativeEndian.Uint32(v), true
}

// parseLink parses an RTM_NEWLINK body: the index and IFLA_IFNAME.
func parseLink(b []byte) (int, string, error) {
	if len(b) < unix.SizeofIfInfomsg {
		return 0, "", errMalformed
	}
	index := int(int32(binary.NativeEndian.Uint32(b[4:])))
	var name string
	err := attrs(b[unix.SizeofIfInfomsg:], func(typ uint16, v []byte) {
		if typ == unix.IFLA_IFNAME {
			if i := bytes.IndexByte(v, 0); i >= 0 {
				v = v[:i]
			}
			name = string(v)
		}
	})
	return index, name, err
}

// parseAddr parses an RTM_NEWADDR body. The address is IFA_LOCAL if
// given (on a point-to-point link IFA_ADDRESS is the peer's), else
// IFA_ADDRESS; IFA_FLAGS, when given, holds all the flags. ok is false
// for an entry without a usable address.
func parseAddr(b []byte) (a Addr, ok bool, err error) {
	if len(b) < unix.SizeofIfAddrmsg {
		return Addr{}, false, errMalformed
	}
	bits := int(b[1])
	a.Flags, a.Scope = uint32(b[2]), b[3]
	a.Index = int(binary.NativeEndian.Uint32(b[4:]))
	var local, address netip.Addr
	err = attrs(b[unix.SizeofIfAddrmsg:], func(typ uint16, v []byte) {
		switch typ {
		case unix.IFA_LOCAL:
			local, _ = netip.AddrFromSlice(v)
		case unix.IFA_ADDRESS:
			address, _ = netip.AddrFromSlice(v)
		case unix.IFA_FLAGS:
			if f, ok := u32(v); ok {
				a.Flags = f
			}
		}
	})
	ip := local
	if !ip.IsValid() {
		ip = address
	}
	if err != nil || !ip.IsValid() {
		return Addr{}, false, err
	}
	a.Prefix = netip.PrefixFrom(ip, bits)
	return a, a.Prefix.IsValid(), nil
}

// parseRoute parses an RTM_NEWROUTE body.
func parseRoute(b []byte) (Route, error) {
	if len(b) < unix.SizeofRtMsg {
		return Route{}, errMalformed
	}
	r := Route{DstLen: b[1], Table: uint32(b[4])}
	r.Cloned = binary.NativeEndian.Uint32(b[8:])&unix.RTM_F_CLONED != 0
	err := attrs(b[unix.SizeofRtMsg:], func(typ uint16, v []byte) {
		switch typ {
		case unix.RTA_TABLE:
			if t, ok := u32(v); ok {
				r.Table = t
			}
		case unix.RTA_OIF:
			if i, ok := u32(v); ok {
				r.Index = int(int32(i))
			}
		case unix.RTA_PRIORITY:
			if p, ok := u32(v); ok {
				r.Priority = p
			}
		case unix.RTA_MULTIPATH: // struct rtnexthop: len u16, flags u8, hops u8, ifindex i32
			if r.Index == 0 && len(v) >= unix.SizeofRtNexthop {
				r.Index = int(int32(binary.NativeEndian.Uint32(v[4:])))
			}
		}
	})
	return r, err
}

// parseNeigh parses an RTM_NEWNEIGH body.
func parseNeigh(b []byte) (Neigh, error) {
	if len(b) < unix.SizeofNdMsg {
		return Neigh{}, errMalformed
	}
	n := Neigh{
		Index: int(int32(binary.NativeEndian.Uint32(b[4:]))),
		State: binary.NativeEndian.Uint16(b[8:]),
	}
	err := attrs(b[unix.SizeofNdMsg:], func(typ uint16, v []byte) {
		switch typ {
		case unix.NDA_DST:
			n.Addr, _ = netip.AddrFromSlice(v)
		case unix.NDA_LLADDR:
			n.MAC = net.HardwareAddr(append([]byte(nil), v...))
		}
	})
	return n, err
}
