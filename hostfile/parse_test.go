package hostfile

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// hostCmp compares Hosts: netip.Addr by value, nil and empty lists alike.
var hostCmp = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmpopts.EquateEmpty(),
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func mac(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

func TestParse(t *testing.T) {
	tests := []struct {
		name   string
		format Format
		in     string
		want   []Host
	}{
		{
			name:   "hosts_aliases_comments_v6",
			format: Hosts,
			in: "# comment\n\n192.0.2.1  alpha.example alpha # trailing\n" +
				"2001:db8::1\talpha.example\r\n192.0.2.1 again\n",
			want: []Host{
				{Addr: addr("192.0.2.1"), Names: []string{"alpha.example", "alpha"}},
				{Addr: addr("2001:db8::1"), Names: []string{"alpha.example"}},
				{Addr: addr("192.0.2.1"), Names: []string{"again"}},
			},
		},
		{
			name:   "hosts_zone",
			format: Hosts,
			in:     "fe80::1%eth0 router\n",
			want:   []Host{{Addr: addr("fe80::1%eth0"), Names: []string{"router"}}},
		},
		{
			name:   "erlang_quoted_hosts_and_nodes",
			format: Erlang,
			in:     "% comment\n'192.0.2.5'.\n'app@192.0.2.6'. 'beta.example'.\n'app@gamma'.\n",
			want: []Host{
				{Addr: addr("192.0.2.5")},
				{Addr: addr("192.0.2.6"), Node: "app@192.0.2.6"},
				{Names: []string{"beta.example"}},
				{Node: "app@gamma", Names: []string{"gamma"}},
			},
		},
		{
			name:   "erlang_bare_atoms_and_layout",
			format: Erlang,
			in:     "alpha.\n  beta@gamma  .%c\n'2001:db8::1'\n.\ndélta.",
			want: []Host{
				{Names: []string{"alpha"}},
				{Node: "beta@gamma", Names: []string{"gamma"}},
				{Addr: addr("2001:db8::1")},
				{Names: []string{"délta"}},
			},
		},
		{
			name:   "erlang_escapes",
			format: Erlang,
			in:     `'o\'neil\\x@h'. '\x41\x{62}\143@h'. 'a\zb@h'.` + "\n",
			want: []Host{
				{Node: `o'neil\x@h`, Names: []string{"h"}},
				{Node: "Abc@h", Names: []string{"h"}},
				{Node: "azb@h", Names: []string{"h"}},
			},
		},
		{
			name:   "plain_all_forms",
			format: Plain,
			in:     "# c\n192.0.2.1\nalpha.example # c\n192.0.2.2:4369\n[2001:db8::2]:80\nhost:22\napp@192.0.2.3\n2001:db8::3\n",
			want: []Host{
				{Addr: addr("192.0.2.1")},
				{Names: []string{"alpha.example"}},
				{Addr: addr("192.0.2.2"), Port: 4369},
				{Addr: addr("2001:db8::2"), Port: 80},
				{Names: []string{"host"}, Port: 22},
				{Addr: addr("192.0.2.3"), Node: "app@192.0.2.3"},
				{Addr: addr("2001:db8::3")},
			},
		},
		{
			name:   "json_full",
			format: JSON,
			in: `[{"ip":"192.0.2.1","port":4369,"mac":"00-00-5E-00-53-01","vendor":"ICANN",
"names":["a.local","a"],"node":"app@a.local","services":["_ssh._tcp"],
"conflict":["00:00:5e:00:53:02"],"last_seen":"2024-05-01T12:00:00+02:00","self":true,"extra":1},
{"names":["b"]}]`,
			want: []Host{
				{
					Addr: addr("192.0.2.1"), Port: 4369, MAC: mac("00:00:5e:00:53:01"), Vendor: "ICANN",
					Names: []string{"a.local", "a"}, Node: "app@a.local", Services: []string{"_ssh._tcp"},
					Conflict: []net.HardwareAddr{mac("00:00:5e:00:53:02")},
					LastSeen: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC), Self: true,
				},
				{Names: []string{"b"}},
			},
		},
		{
			name:   "auto_json",
			format: Auto,
			in:     "\n [ {\"ip\": \"192.0.2.1\"} ]\n",
			want:   []Host{{Addr: addr("192.0.2.1")}},
		},
		{
			name:   "auto_hosts",
			format: Auto,
			in:     "# x\n192.0.2.1 a.example.\n",
			want:   []Host{{Addr: addr("192.0.2.1"), Names: []string{"a.example."}}},
		},
		{
			name:   "auto_erlang_comment",
			format: Auto,
			in:     "% x\nalpha.\n",
			want:   []Host{{Names: []string{"alpha"}}},
		},
		{
			name:   "auto_erlang_bare",
			format: Auto,
			in:     "alpha.\n",
			want:   []Host{{Names: []string{"alpha"}}},
		},
		{
			name:   "auto_plain",
			format: Auto,
			in:     "# x\n192.0.2.1\n",
			want:   []Host{{Addr: addr("192.0.2.1")}},
		},
		{
			name:   "auto_plain_bracketed_ipv6_first",
			format: Auto,
			in:     "[2001:db8::1]:7946\n192.0.2.1:7946\n",
			want:   []Host{{Addr: addr("2001:db8::1"), Port: 7946}, {Addr: addr("192.0.2.1"), Port: 7946}},
		},
		{
			name:   "auto_plain_bracketed_ipv6_after_header",
			format: Auto,
			in:     "# x\n[::ffff:c000:201]:7946\n",
			want:   []Host{{Addr: addr("::ffff:c000:201"), Port: 7946}},
		},
		{
			name:   "auto_hash_comment_rules_out_erlang",
			format: Auto,
			in:     "# x\nalpha.\n",
			want:   []Host{{Names: []string{"alpha."}}},
		},
		{
			name:   "auto_hash_comment_rules_out_json",
			format: Auto,
			in:     "# x\n[x@h\n",
			want:   []Host{{Node: "[x@h", Names: []string{"h"}}},
		},
		{
			name:   "auto_only_comments",
			format: Auto,
			in:     "# x\n\n",
			want:   nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tt.in), "test", &ParseOptions{Format: tt.format})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, hostCmp); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name   string
		format Format
		in     string
		want   string
	}{
		{"hosts_bad_ipv4", Hosts, "# c\n\n321.321.321.321 bad\n", `hostfile f line 3: bad address "321.321.321.321"`},
		{"hosts_no_name", Hosts, "192.0.2.1\n", `hostfile f line 1: address 192.0.2.1 has no host name`},
		{"hosts_bad_name", Hosts, "192.0.2.1 a/b\n", `hostfile f line 1: bad host name "a/b"`},
		{"hosts_numeric_name", Hosts, "192.0.2.1 1.2.3.400\n", `hostfile f line 1: bad address "1.2.3.400"`},
		{"erlang_string", Erlang, "'a'.\n\"b\".\n", `hostfile f line 2: unsupported term starting with '"': want an atom`},
		{"erlang_no_full_stop", Erlang, "'a'\n'b'.\n", `hostfile f line 2: missing full stop after 'a'`},
		{"erlang_dot_glued", Erlang, "'a'.'b'.\n", `hostfile f line 1: missing white space after full stop after 'a'`},
		{"erlang_unterminated", Erlang, "'a'.\n'b.\n\n", `hostfile f line 2: unterminated quoted atom or bad escape sequence`},
		{"erlang_reserved", Erlang, "end.\n", `hostfile f line 1: reserved word "end": quote it to make an atom`},
		{"erlang_bad_address", Erlang, "'321.321.321.321'.\n", `hostfile f line 1: bad address "321.321.321.321"`},
		{"erlang_control_char", Erlang, `'a\nb'.`, `hostfile f line 1: bad host name "a\nb"`},
		{"erlang_too_long", Erlang, "'" + strings.Repeat("a", 256) + "'.", `hostfile f line 1: atom "` + strings.Repeat("a", 64) + `"... longer than 255 characters`},
		{"plain_two_fields", Plain, "a b\n", `hostfile f line 1: want one host per line, have 2 fields`},
		{"plain_bad_port", Plain, "a:0\n", `hostfile f line 1: bad port "0"`},
		{"plain_bad_v6_port", Plain, "[2001:db8::1]\n", `hostfile f line 1: bad address and port "[2001:db8::1]"`},
		{"plain_bad_node", Plain, "@h\n", `hostfile f line 1: bad node name "@h": want name@host`},
		{"json_not_array", JSON, "{}", `hostfile f line 1: want a JSON array of hosts`},
		{"json_bad_ip", JSON, "[\n{\"ip\":\"192.0.2.1\"},\n  {\"ip\":\"321.0.0.1\"}]", `hostfile f line 3: bad address "321.0.0.1"`},
		{"json_empty_entry", JSON, "[{}]", `hostfile f line 1: host has no ip, names or node`},
		{"json_syntax", JSON, "[\n{\"ip\":}]", `hostfile f line 2: bad JSON: invalid character '}' looking for beginning of value`},
		{"json_trailing", JSON, "[]\n[]", `hostfile f line 2: unexpected data after the JSON array`},
		{"json_bad_time", JSON, `[{"ip":"192.0.2.1","last_seen":"yesterday"}]`, `hostfile f line 1: bad last_seen "yesterday": want RFC 3339 time`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tt.in), "f", &ParseOptions{Format: tt.format})
			if err == nil {
				t.Fatalf("Parse = %v, want error %q", got, tt.want)
			}
			if got != nil {
				t.Errorf("Parse returned hosts %v with an error", got)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *ParseError: %v", err, err)
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n got %s\nwant %s", err, tt.want)
			}
		})
	}
}

func TestParseLenient(t *testing.T) {
	in := "192.0.2.1 good\n321.321.321.321 bad\n192.0.2.2\n192.0.2.3 fine\n"
	got, err := Parse(strings.NewReader(in), "~/.hosts", &ParseOptions{Lenient: true})
	want := []Host{
		{Addr: addr("192.0.2.1"), Names: []string{"good"}},
		{Addr: addr("192.0.2.3"), Names: []string{"fine"}},
	}
	if diff := cmp.Diff(want, got, hostCmp); diff != "" {
		t.Errorf("hosts (-want +got):\n%s", diff)
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("error %v (%T) is not joined", err, err)
	}
	var lines []int
	for _, e := range joined.Unwrap() {
		pe, ok := e.(*ParseError)
		if !ok {
			t.Fatalf("joined error %T is not a *ParseError", e)
		}
		if pe.File != "~/.hosts" {
			t.Errorf("File = %q", pe.File)
		}
		lines = append(lines, pe.Line)
	}
	if diff := cmp.Diff([]int{2, 3}, lines); diff != "" {
		t.Errorf("error lines (-want +got):\n%s", diff)
	}
	wantMsg := "hostfile ~/.hosts line 2: bad address \"321.321.321.321\"\n" +
		"hostfile ~/.hosts line 3: address 192.0.2.2 has no host name"
	if err.Error() != wantMsg {
		t.Errorf("error:\n%s\nwant\n%s", err, wantMsg)
	}
}

func TestParseLenientErlangResync(t *testing.T) {
	in := "'a'. \"bad\". 'b'.\n'unterminated.\n'c'.\n"
	got, err := Parse(strings.NewReader(in), "f", &ParseOptions{Format: Erlang, Lenient: true})
	want := []Host{{Names: []string{"a"}}, {Names: []string{"c"}}}
	if diff := cmp.Diff(want, got, hostCmp); diff != "" {
		t.Errorf("hosts (-want +got):\n%s", diff)
	}
	if err == nil || strings.Count(err.Error(), "\n") != 1 {
		t.Errorf("want two errors, got %v", err)
	}
}

func TestParseFormat(t *testing.T) {
	for _, f := range []Format{Auto, Hosts, Erlang, Plain, JSON} {
		got, err := ParseFormat(strings.ToUpper(f.String()))
		if err != nil || got != f {
			t.Errorf("ParseFormat(%q) = %v, %v", f.String(), got, err)
		}
	}
	if _, err := ParseFormat("yaml"); err == nil {
		t.Error("ParseFormat(yaml) succeeded")
	}
	if s := Format(42).String(); s != "Format(42)" {
		t.Errorf("String = %q", s)
	}
}

// endless is a reader that never ends, like /dev/zero.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '\n'
	}
	return len(p), nil
}

func TestParseBoundsInput(t *testing.T) {
	_, err := Parse(endless{}, "stdin", nil)
	if err == nil || err.Error() != "hostfile: stdin is larger than 64 MiB: it is no hostfile, check the path" {
		t.Errorf("err %v, want the 64 MiB limit", err)
	}
}

// TestParseErrorsClipLongFields checks that a huge bad field is quoted
// cut short, with control characters escaped, in every format.
func TestParseErrorsClipLongFields(t *testing.T) {
	huge := strings.Repeat("\x01x", 2_500_000) // 5 MB
	tests := []struct {
		name   string
		format Format
		in     string
	}{
		{"hosts_address", Hosts, huge + " name\n"},
		{"hosts_name", Hosts, "192.0.2.1 " + huge + "\n"},
		{"plain", Plain, huge + "\n"},
		{"plain_port", Plain, "h:" + huge + "\n"},
		{"erlang_quoted", Erlang, "'" + huge + "'.\n"},
		{"erlang_no_full_stop", Erlang, "'a" + strings.Repeat("b", 200) + "' x\n"},
		{"json_ip", JSON, `[{"ip":"` + strings.Repeat(`\u0001x`, 1_000_000) + `"}]`},
		{"json_number", JSON, `[{"port":` + strings.Repeat("9", 5_000_000) + `}]`},
		{"json_names", JSON, `[{"names":["` + strings.Repeat("x", 5_000_000) + `"]}]`},
		{"json_zone", JSON, `[{"ip":"fe80::1%` + strings.Repeat("x", 5_000_000) + `!"}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tt.in), "f", &ParseOptions{Format: tt.format})
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if len(msg) > 300 || !strings.Contains(msg, "...") || strings.ContainsAny(msg, "\x01\n") {
				t.Errorf("error of %d bytes, want under 300 with ... and no control characters: %.400q", len(msg), msg)
			}
		})
	}
}

// A hostfile within maxSize can still hold millions of one-letter hosts
// or bad lines, each costing far more memory than its bytes (8 MiB of
// "x\n" took 905 MiB of heap): both are bounded.
func TestParseBoundsHostsAndErrors(t *testing.T) {
	if maxHosts != 1<<18 {
		t.Fatalf("maxHosts %d, want 262144 as documented", maxHosts)
	}
	defer func(n int) { maxHosts = n }(maxHosts)
	maxHosts = 1000 // the race detector makes 262,145 hosts take a minute
	var many []Host
	for i := range maxHosts + 1 {
		many = append(many, Host{Addr: netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), Names: []string{"x"}})
	}
	for _, lenient := range []bool{false, true} {
		for _, f := range []Format{Plain, Hosts, Erlang, JSON} {
			var buf bytes.Buffer
			if err := Write(&buf, f, many[:maxHosts]); err != nil {
				t.Fatal(err)
			}
			if hosts, err := Parse(&buf, "full", &ParseOptions{Format: f, Lenient: lenient}); err != nil || len(hosts) != maxHosts {
				t.Errorf("%v lenient=%v: %d hosts, err %v; want all %d", f, lenient, len(hosts), err, maxHosts)
			}
			buf.Reset()
			if err := Write(&buf, f, many); err != nil {
				t.Fatal(err)
			}
			hosts, err := Parse(&buf, "big", &ParseOptions{Format: f, Lenient: lenient})
			if hosts != nil || err == nil || !strings.Contains(err.Error(), fmt.Sprintf("more than %d hosts", maxHosts)) {
				t.Errorf("%v lenient=%v: %d hosts, err %.100v; want none and an error", f, lenient, len(hosts), err)
			}
		}
	}
	bad := "[" + strings.Repeat(`{"ip":"x"},`, maxErrors+50) + `{"ip":"192.0.2.1"}]`
	hosts, err := Parse(strings.NewReader(bad), "bad", &ParseOptions{Format: JSON, Lenient: true})
	j, ok := err.(interface{ Unwrap() []error })
	if len(hosts) != 1 || !ok {
		t.Fatalf("%d hosts, err %T; want 1 and joined errors", len(hosts), err)
	}
	errs := j.Unwrap()
	if len(errs) != maxErrors+1 || errs[maxErrors].Error() != "hostfile bad: 50 more bad lines not listed" {
		t.Errorf("%d errors, last %q; want %d and a count of the 50 others", len(errs), errs[len(errs)-1], maxErrors+1)
	}
}
