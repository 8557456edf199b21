package hostfile

import (
	"bytes"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// unsorted holds hosts in no particular order, of every kind.
var unsorted = []Host{
	{Names: []string{"zeta.example"}, Port: 22},
	{Addr: addr("2001:db8::1"), Names: []string{"alpha.example"}},
	{Addr: addr("192.0.2.10"), Names: []string{"beta.example", "beta"}},
	{Addr: addr("192.0.2.9"), Node: "app@192.0.2.9"},
	{Names: []string{"eta.example"}},
	{Addr: addr("192.0.2.10"), Names: []string{"alias.example"}},
	{Addr: addr("198.51.100.1"), Port: 4369},
}

func TestWrite(t *testing.T) {
	tests := []struct {
		name   string
		format Format
		want   string
	}{
		{"hosts", Hosts, "#" + header + "\n" +
			"192.0.2.10\talias.example\n" +
			"192.0.2.10\tbeta.example beta\n" +
			"2001:db8::1\talpha.example\n"},
		{"erlang", Erlang, "%" + header + "\n" +
			"'app@192.0.2.9'.\n'192.0.2.10'.\n'192.0.2.10'.\n'198.51.100.1'.\n'2001:db8::1'.\n'eta.example'.\n'zeta.example'.\n"},
		{"plain", Plain, "#" + header + "\n" +
			"app@192.0.2.9\n192.0.2.10\n192.0.2.10\n198.51.100.1:4369\n2001:db8::1\neta.example\nzeta.example:22\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, tt.format, unsorted); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, buf.String()); diff != "" {
				t.Errorf("Write (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWriteDeterministic(t *testing.T) {
	hosts := append([]Host{}, unsorted...)
	hosts[1].Services = []string{"_ssh._tcp", "_http._tcp", "_ssh._tcp"}
	hosts[1].Conflict = []net.HardwareAddr{mac("00:00:5e:00:53:02"), mac("00:00:5e:00:53:01")}
	orig := cloneHosts(hosts)
	for _, f := range []Format{Hosts, Erlang, Plain, JSON} {
		var first bytes.Buffer
		if err := Write(&first, f, hosts); err != nil {
			t.Fatal(err)
		}
		for i := range len(hosts) {
			// Rotate the hosts and reverse the sets: same hosts, other order.
			rot := cloneHosts(append(hosts[i:], hosts[:i]...))
			for j := range rot {
				rot[j].Services = reversed(rot[j].Services)
				rot[j].Conflict = reversed(rot[j].Conflict)
			}
			var again bytes.Buffer
			if err := Write(&again, f, rot); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(first.Bytes(), again.Bytes()) {
				t.Errorf("%v: output differs for rotation %d:\n%s\n---\n%s", f, i, first.String(), again.String())
			}
		}
	}
	if diff := cmp.Diff(orig, hosts, hostCmp); diff != "" {
		t.Errorf("Write changed its input (-before +after):\n%s", diff)
	}
}

func cloneHosts(hs []Host) []Host {
	out := make([]Host, len(hs))
	for i, h := range hs {
		h.Names = append([]string(nil), h.Names...)
		h.Services = append([]string(nil), h.Services...)
		h.Conflict = append([]net.HardwareAddr(nil), h.Conflict...)
		out[i] = h
	}
	return out
}

func reversed[T any](s []T) []T {
	out := make([]T, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

// TestRoundTrip checks Parse(Write(x)) == x for hosts that carry only the
// fields of each format.
func TestRoundTrip(t *testing.T) {
	seen := time.Date(2024, 5, 1, 10, 0, 0, 123456789, time.FixedZone("x", 3600))
	tests := []struct {
		name   string
		format Format
		hosts  []Host
	}{
		{"hosts", Hosts, []Host{
			{Addr: addr("192.0.2.1"), Names: []string{"a.example", "a"}},
			{Addr: addr("192.0.2.1"), Names: []string{"b.example"}},
			{Addr: addr("::ffff:192.0.2.1"), Names: []string{"mapped"}},
			{Addr: addr("fe80::1%eth0"), Names: []string{"link.local"}},
			{Addr: addr("2001:db8::1"), Names: []string{"ünï.example", "trailing.dot."}},
		}},
		{"erlang", Erlang, []Host{
			{Addr: addr("192.0.2.1")},
			{Addr: addr("2001:db8::1")},
			{Addr: addr("192.0.2.2"), Node: "app@192.0.2.2"},
			{Names: []string{"gamma"}, Node: `o'neil\x@gamma`},
			{Names: []string{"delta.example"}},
			{Names: []string{"ünï"}, Node: "ǹode€@ünï"},
		}},
		{"plain", Plain, []Host{
			{Addr: addr("192.0.2.1")},
			{Addr: addr("192.0.2.1"), Port: 80},
			{Addr: addr("2001:db8::1"), Port: 443},
			{Addr: addr("fe80::1%eth0"), Port: 443},
			{Addr: addr("192.0.2.2"), Node: "app@192.0.2.2"},
			{Names: []string{"h"}, Node: "app@h"},
			{Names: []string{"h"}, Port: 65535},
			{Names: []string{"h"}},
		}},
		{"json", JSON, []Host{
			{
				Addr: addr("192.0.2.1"), Port: 4369, MAC: mac("00:00:5e:00:53:01"), Vendor: `ICANN, "IANA" ☃`,
				Names: []string{"a.local", "a"}, Node: "app@a.local", Services: []string{"_http._tcp", "_ssh._tcp"},
				Conflict: []net.HardwareAddr{mac("00:00:5e:00:53:02"), mac("00:00:5e:00:53:03")},
				LastSeen: seen, Self: true,
			},
			{Addr: addr("2001:db8::1"), MAC: mac("00:00:5e:ff:fe:00:53:01")},
			{
				Addr: addr("192.0.2.3"), Names: []string{"pc3.lan", "pc3"}, Workgroup: "WORK GROUP",
				Sources: map[string]string{"pc3.lan": "dns", "pc3": "netbios"},
			},
			{Names: []string{"name-only"}},
			{Node: "n@192.0.2.9"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, tt.format, tt.hosts); err != nil {
				t.Fatal(err)
			}
			got, err := Parse(&buf, "roundtrip", &ParseOptions{Format: tt.format})
			if err != nil {
				t.Fatalf("Parse: %v\n%s", err, buf.String())
			}
			if diff := cmp.Diff(sortedHosts(tt.hosts), got, hostCmp); diff != "" {
				t.Errorf("Parse(Write(x)) (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWriteJSONSchema: only ip and names are always written; keys that
// carry nothing (port 0, "node": "", "conflict": []) are left out.
func TestWriteJSONSchema(t *testing.T) {
	var buf bytes.Buffer
	hosts := []Host{{Addr: addr("192.0.2.1")}}
	if err := Write(&buf, JSON, hosts); err != nil {
		t.Fatal(err)
	}
	want := `[
  {
    "ip": "192.0.2.1",
    "names": []
  }
]
`
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("JSON (-want +got):\n%s", diff)
	}
	buf.Reset()
	if err := Write(&buf, JSON, nil); err != nil || buf.String() != "[]\n" {
		t.Errorf("Write(nil) = %q, %v; want []", buf.String(), err)
	}
}

func TestWriteErrors(t *testing.T) {
	tests := []struct {
		name   string
		format Format
		host   Host
		want   string
	}{
		{"space_in_name", Hosts, Host{Addr: addr("192.0.2.1"), Names: []string{"a b"}}, `bad host name "a b"`},
		{"hash_in_name", Plain, Host{Names: []string{"a#b"}}, `bad host name "a#b"`},
		{"node_without_host", Erlang, Host{Node: "app"}, `want name@host`},
		{"node_control_char", Erlang, Host{Node: "a\x01@h"}, `bad node name`},
		{"node_too_long", Erlang, Host{Node: strings.Repeat("n", 254) + "@h"}, `longer than 255 characters`},
		{"bad_mac", JSON, Host{Addr: addr("192.0.2.1"), MAC: net.HardwareAddr{1, 2, 3}}, `bad MAC address length 3`},
		{"bad_zone", Plain, Host{Addr: addr("fe80::1%a b")}, `bad zone`},
		{"bad_service", JSON, Host{Addr: addr("192.0.2.1"), Services: []string{"_ssh _tcp"}}, `bad service type`},
		{"bad_source_name", JSON, Host{Addr: addr("192.0.2.1"), Sources: map[string]string{"a b": "dns"}}, `source of bad host name "a b"`},
		{"bad_source", JSON, Host{Addr: addr("192.0.2.1"), Sources: map[string]string{"a": "d\ns"}}, `bad source "d\ns" of name "a"`},
		{"bad_workgroup", JSON, Host{Addr: addr("192.0.2.1"), Workgroup: "W\x00"}, `bad workgroup`},
		{"year_10000", JSON, Host{Addr: addr("192.0.2.1"), LastSeen: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, `not an RFC 3339 time`},
		{"auto", Auto, Host{Addr: addr("192.0.2.1")}, `needs a format`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := Write(&buf, tt.format, []Host{{Addr: addr("192.0.2.2"), Names: []string{"ok"}}, tt.host})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Write error = %v, want one containing %q", err, tt.want)
			}
			if buf.Len() != 0 {
				t.Errorf("Write wrote %q despite the error", buf.String())
			}
		})
	}
}

func TestCheckNodeName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"app", true},
		{"node_1-a.b", true},
		{strings.Repeat("n", maxNodeName), true},
		{"", false},
		{strings.Repeat("n", maxNodeName+1), false},
		{"a@b", false},
		{"a b", false},
		{"a#b", false},
		{"a/b", false},
		{"a'b", false},
		{"ü", false},
	}
	for _, tt := range tests {
		err := CheckNodeName(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("CheckNodeName(%.20q) = %v, want ok %v", tt.name, err, tt.ok)
		}
		if err == nil {
			node := tt.name + "@ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"
			if err := CheckNode(node); err != nil {
				t.Errorf("CheckNode(%.20q...) = %v, want nil", node, err)
			}
		}
	}
}

func TestWriteIPv6Lines(t *testing.T) {
	v6 := []netip.Addr{addr("fe80::1%eth0"), addr("2001:db8::1"), addr("fd00:db8::1"), addr("2001:db8::1")}
	hosts := []Host{
		{Addr: addr("192.0.2.1"), Names: []string{"a.local", "a"}, IPv6: v6},
		{Addr: addr("2001:db8::2"), Names: []string{"b.local"}, Port: 22, IPv6: []netip.Addr{addr("2001:db8::2"), addr("2001:db8::3")}},
		{Addr: addr("192.0.2.4"), Node: "app@192.0.2.4", IPv6: v6},
		{Addr: addr("192.0.2.5"), Names: []string{"ll.local"}, IPv6: []netip.Addr{addr("fe80::5%eth0")}},
	}
	tests := []struct {
		name   string
		format Format
		want   string
	}{
		{"hosts", Hosts, "#" + header + "\n" +
			"192.0.2.1\ta.local a\n2001:db8::1\ta.local a\nfd00:db8::1\ta.local a\n" +
			"192.0.2.5\tll.local\n" +
			"2001:db8::2\tb.local\n2001:db8::3\tb.local\n"},
		{"plain", Plain, "#" + header + "\n" +
			"192.0.2.1\n2001:db8::1\nfd00:db8::1\n" +
			"app@192.0.2.4\n192.0.2.5\n" +
			"[2001:db8::2]:22\n[2001:db8::3]:22\n"},
		{"erlang", Erlang, "%" + header + "\n" +
			"'192.0.2.1'.\n'app@192.0.2.4'.\n'192.0.2.5'.\n'2001:db8::2'.\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, tt.format, hosts); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, buf.String()); diff != "" {
				t.Errorf("Write (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWriteBadIPv6(t *testing.T) {
	for _, a := range []string{"192.0.2.1", "::ffff:192.0.2.1", "fe80::1%a b"} {
		h := Host{Addr: addr("192.0.2.1"), Names: []string{"a"}, IPv6: []netip.Addr{addr(a)}}
		for _, f := range []Format{Hosts, Plain, Erlang, JSON} {
			if err := Write(&bytes.Buffer{}, f, []Host{h}); err == nil {
				t.Errorf("Write %v of IPv6 %s: no error", f, a)
			}
		}
	}
}
