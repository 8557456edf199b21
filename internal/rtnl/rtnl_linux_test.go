package rtnl

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// attr encodes one route attribute, padded.
func attr(typ uint16, v []byte) []byte {
	b := make([]byte, unix.SizeofRtAttr, unix.SizeofRtAttr+len(v)+3)
	binary.NativeEndian.PutUint16(b, uint16(unix.SizeofRtAttr+len(v)))
	binary.NativeEndian.PutUint16(b[2:], typ)
	b = append(b, v...)
	for len(b)%unix.RTA_ALIGNTO != 0 {
		b = append(b, 0)
	}
	return b
}

func le32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

func TestParseAddr(t *testing.T) {
	hdr := func(family, bits, flags, scope uint8, index uint32) []byte {
		return binary.NativeEndian.AppendUint32([]byte{family, bits, flags, scope}, index)
	}
	for _, tc := range []struct {
		name string
		b    []byte
		want Addr
		ok   bool
	}{
		{"local_over_peer", slices.Concat(hdr(unix.AF_INET, 32, 0, 0, 3),
			attr(unix.IFA_ADDRESS, []byte{198, 51, 100, 9}), attr(unix.IFA_LOCAL, []byte{192, 0, 2, 1})),
			Addr{Index: 3, Prefix: netip.MustParsePrefix("192.0.2.1/32")}, true},
		{"ipv6_with_extended_flags", slices.Concat(hdr(unix.AF_INET6, 64, unix.IFA_F_SECONDARY, 0, 2),
			attr(unix.IFA_ADDRESS, netip.MustParseAddr("2001:db8::5").AsSlice()), attr(unix.IFA_FLAGS, le32(unix.IFA_F_MANAGETEMPADDR|unix.IFA_F_TENTATIVE))),
			Addr{Index: 2, Prefix: netip.MustParsePrefix("2001:db8::5/64"), Flags: unix.IFA_F_MANAGETEMPADDR | unix.IFA_F_TENTATIVE}, true},
		{"scope_link", slices.Concat(hdr(unix.AF_INET6, 64, 0, unix.RT_SCOPE_LINK, 2), attr(unix.IFA_ADDRESS, netip.MustParseAddr("fe80::1").AsSlice())),
			Addr{Index: 2, Prefix: netip.MustParsePrefix("fe80::1/64"), Scope: unix.RT_SCOPE_LINK}, true},
		{"no_address", hdr(unix.AF_INET, 24, 0, 0, 1), Addr{}, false},
		{"bad_prefix_length", slices.Concat(hdr(unix.AF_INET, 33, 0, 0, 1), attr(unix.IFA_LOCAL, []byte{192, 0, 2, 1})), Addr{}, false},
		{"odd_address_length", slices.Concat(hdr(unix.AF_INET, 24, 0, 0, 1), attr(unix.IFA_LOCAL, []byte{192, 0, 2})), Addr{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, err := parseAddr(tc.b)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tc.ok || ok && got != tc.want {
				t.Errorf("parseAddr = %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestParseRoute(t *testing.T) {
	rtmsg := func(dstLen, table uint8, flags uint32) []byte {
		return binary.NativeEndian.AppendUint32([]byte{unix.AF_INET, dstLen, 0, 0, table, 0, 0, unix.RTN_UNICAST}, flags)
	}
	nexthop := binary.NativeEndian.AppendUint32([]byte{8, 0, 0, 0}, 7) // len 8, flags, hops, ifindex 7
	for _, tc := range []struct {
		name string
		b    []byte
		want Route
	}{
		{"default_via_oif", slices.Concat(rtmsg(0, unix.RT_TABLE_MAIN, 0), attr(unix.RTA_OIF, le32(4)), attr(unix.RTA_PRIORITY, le32(100))),
			Route{Table: unix.RT_TABLE_MAIN, Index: 4, Priority: 100}},
		{"multipath", slices.Concat(rtmsg(0, unix.RT_TABLE_MAIN, 0), attr(unix.RTA_MULTIPATH, nexthop)),
			Route{Table: unix.RT_TABLE_MAIN, Index: 7}},
		{"table_attr_wins", slices.Concat(rtmsg(24, unix.RT_TABLE_COMPAT, 0), attr(unix.RTA_TABLE, le32(1000)), attr(unix.RTA_OIF, le32(2))),
			Route{Table: 1000, DstLen: 24, Index: 2}},
		{"cloned", rtmsg(32, unix.RT_TABLE_MAIN, unix.RTM_F_CLONED), Route{Table: unix.RT_TABLE_MAIN, DstLen: 32, Cloned: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseRoute(tc.b)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("parseRoute = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseNeighAndLink(t *testing.T) {
	nd := make([]byte, unix.SizeofNdMsg)
	nd[0] = unix.AF_INET
	binary.NativeEndian.PutUint32(nd[4:], 5)
	binary.NativeEndian.PutUint16(nd[8:], unix.NUD_STALE)
	mac := net.HardwareAddr{2, 0, 0x5e, 0, 0x53, 1}
	n, err := parseNeigh(slices.Concat(nd, attr(unix.NDA_DST, []byte{192, 0, 2, 7}), attr(unix.NDA_LLADDR, mac)))
	if err != nil {
		t.Fatal(err)
	}
	want := Neigh{Index: 5, Addr: netip.MustParseAddr("192.0.2.7"), MAC: mac, State: unix.NUD_STALE}
	if diff := cmp.Diff(want, n, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("parseNeigh (-want +got):\n%s", diff)
	}
	ifi := make([]byte, unix.SizeofIfInfomsg)
	binary.NativeEndian.PutUint32(ifi[4:], 9)
	index, name, err := parseLink(slices.Concat(ifi, attr(unix.IFLA_MTU, le32(1500)), attr(unix.IFLA_IFNAME, []byte("eth0\x00"))))
	if err != nil || index != 9 || name != "eth0" {
		t.Errorf("parseLink = %d, %q, %v; want 9, eth0", index, name, err)
	}
}

// TestParseMalformed: a truncated header or an attribute whose length
// runs past the message is an error, never a panic or a short read.
func TestParseMalformed(t *testing.T) {
	long := attr(unix.IFA_LOCAL, []byte{192, 0, 2, 1})
	binary.NativeEndian.PutUint16(long, 200)
	short := attr(unix.IFA_LOCAL, []byte{192, 0, 2, 1})
	binary.NativeEndian.PutUint16(short, 2)
	for name, b := range map[string][]byte{"too_long": long, "shorter_than_header": short} {
		if _, _, err := parseAddr(slices.Concat(make([]byte, unix.SizeofIfAddrmsg), b)); err == nil {
			t.Errorf("%s attribute accepted", name)
		}
	}
	for name, parse := range parsers {
		if err := parse([]byte{1, 2, 3}); err == nil {
			t.Errorf("%s accepted a 3-byte message", name)
		}
	}
}

var parsers = map[string]func([]byte) error{
	"addr":  func(b []byte) error { _, _, err := parseAddr(b); return err },
	"route": func(b []byte) error { _, err := parseRoute(b); return err },
	"neigh": func(b []byte) error { _, err := parseNeigh(b); return err },
	"link":  func(b []byte) error { _, _, err := parseLink(b); return err },
}

// FuzzParse: the parsers take any bytes without panicking, and attrs
// hands out only payloads inside the message.
func FuzzParse(f *testing.F) {
	f.Add(slices.Concat(make([]byte, 16), attr(unix.IFA_LOCAL, []byte{192, 0, 2, 1}), attr(unix.RTA_MULTIPATH, []byte{8, 0, 0, 0, 7, 0, 0, 0})))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, parse := range parsers {
			parse(b)
		}
		total := 0
		attrs(b, func(_ uint16, v []byte) { total += unix.SizeofRtAttr + len(v) })
		if total > len(b) {
			t.Fatalf("attributes of %d bytes from a %d-byte message", total, len(b))
		}
	})
}

// TestAgainstIP: in a lab namespace, what Dial's Conn reads matches what
// iproute2's ip(8) shows, and a subscription sees an address added.
func TestAgainstIP(t *testing.T) {
	l := lab.New(t, lab.Config{Hosts: 2})
	h, peer := l.Hosts[0], l.Hosts[1]
	ip := func(args ...string) []byte {
		t.Helper()
		out, err := h.Command(context.Background(), "ip", args...).Output()
		if err != nil {
			t.Fatalf("ip %v: %v", args, err)
		}
		return out
	}
	ip("route", "add", "default", "via", h.Addr.Next().String(), "dev", h.Iface, "metric", "7")
	ip("addr", "add", "2001:db8::7/64", "dev", h.Iface, "nodad")
	ip("neigh", "replace", peer.Addr.String(), "lladdr", "02:00:5e:00:53:07", "dev", h.Iface, "nud", "reachable")

	var (
		c      *Conn
		events *Events
	)
	if err := h.Do(func() (err error) {
		if c, err = Dial(); err != nil {
			return err
		}
		events, err = Subscribe(unix.RTMGRP_IPV4_IFADDR | unix.RTMGRP_IPV6_IFADDR)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	defer events.Close()

	// Read from this goroutine's thread, outside the namespace.
	links, err := c.Links()
	if err != nil {
		t.Fatal(err)
	}
	var ipLinks []struct {
		Index int    `json:"ifindex"`
		Name  string `json:"ifname"`
	}
	if err := json.Unmarshal(ip("-j", "link", "show"), &ipLinks); err != nil {
		t.Fatal(err)
	}
	wantLinks := map[int]string{}
	for _, l := range ipLinks {
		wantLinks[l.Index] = l.Name
	}
	if diff := cmp.Diff(wantLinks, links); diff != "" {
		t.Errorf("links (-ip +rtnl):\n%s", diff)
	}

	addrs, err := c.Addrs()
	if err != nil {
		t.Fatal(err)
	}
	var ipAddrs []struct {
		Index int `json:"ifindex"`
		Info  []struct {
			Local  string `json:"local"`
			Prefix int    `json:"prefixlen"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal(ip("-j", "addr", "show"), &ipAddrs); err != nil {
		t.Fatal(err)
	}
	var want, got []string
	for _, l := range ipAddrs {
		for _, a := range l.Info {
			want = append(want, netip.PrefixFrom(netip.MustParseAddr(a.Local), a.Prefix).String()+"@"+links[l.Index])
		}
	}
	for _, a := range addrs {
		got = append(got, a.Prefix.String()+"@"+links[a.Index])
	}
	slices.Sort(want)
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("addresses (-ip +rtnl):\n%s", diff)
	}
	if !slices.Contains(got, netip.PrefixFrom(h.Addr, l.Prefix.Bits()).String()+"@"+h.Iface) {
		t.Errorf("lab address %v on %s not read: %v", h.Addr, h.Iface, got)
	}

	routes, err := c.Routes(unix.AF_INET)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(routes, func(r Route) bool { return r.DstLen == 0 && r.Table == unix.RT_TABLE_MAIN })
	if i < 0 || links[routes[i].Index] != h.Iface || routes[i].Priority != 7 {
		t.Errorf("default route not read as dev %s metric 7: %+v", h.Iface, routes)
	}

	var ifindex int
	for i, n := range links {
		if n == h.Iface {
			ifindex = i
		}
	}
	neighs, err := c.Neighs(ifindex, unix.AF_INET)
	if err != nil {
		t.Fatal(err)
	}
	j := slices.IndexFunc(neighs, func(n Neigh) bool { return n.Addr == peer.Addr })
	if j < 0 || neighs[j].MAC.String() != "02:00:5e:00:53:07" || neighs[j].State&unix.NUD_REACHABLE == 0 {
		t.Errorf("neighbour %v not read with its MAC and state: %+v", peer.Addr, neighs)
	}

	ip("addr", "add", "192.0.2.77/24", "dev", h.Iface)
	ev, err := events.Read()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(ev, Event{Type: unix.RTM_NEWADDR, Family: unix.AF_INET}) {
		t.Errorf("events after adding an address: %+v", ev)
	}
	events.Close()
	if _, err := events.Read(); err == nil {
		t.Error("Read after Close succeeded")
	}
}
