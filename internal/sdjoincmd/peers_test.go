package sdjoincmd

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ipfinder-go/ipfinder/hostfile"
)

func TestPeersFromHosts(t *testing.T) {
	ap := netip.MustParseAddrPort
	a := netip.MustParseAddr
	self := selfMatcher(ap("0.0.0.0:7946"), ap("192.0.2.10:7946"), []netip.Addr{a("127.0.0.1"), a("192.0.2.10"), a("198.51.100.7")})
	tests := []struct {
		name  string
		hosts []hostfile.Host
		want  []string
	}{
		{name: "host_gets_default_port", hosts: []hostfile.Host{{Addr: a("192.0.2.1")}}, want: []string{"192.0.2.1:7946"}},
		{name: "host_port", hosts: []hostfile.Host{{Addr: a("192.0.2.1"), Port: 7000}}, want: []string{"192.0.2.1:7000"}},
		{name: "node_name_is_a_hint", hosts: []hostfile.Host{{Addr: a("192.0.2.2"), Node: "app@192.0.2.2"}}, want: []string{"192.0.2.2:7946"}},
		{name: "name_only", hosts: []hostfile.Host{{Names: []string{"alpha.example"}}}, want: []string{"alpha.example:7946"}},
		{name: "ipv6", hosts: []hostfile.Host{{Addr: a("2001:db8::1"), Port: 7001}}, want: []string{"[2001:db8::1]:7001"}},
		{name: "duplicates_once", hosts: []hostfile.Host{{Addr: a("192.0.2.1")}, {Addr: a("192.0.2.1"), Names: []string{"x"}}}, want: []string{"192.0.2.1:7946"}},
		{name: "self_advertise_skipped", hosts: []hostfile.Host{{Addr: a("192.0.2.10")}, {Addr: a("192.0.2.11")}}, want: []string{"192.0.2.11:7946"}},
		{name: "self_local_addr_skipped", hosts: []hostfile.Host{{Addr: a("198.51.100.7")}, {Addr: a("127.0.0.1")}}, want: nil},
		{name: "same_machine_other_port_kept", hosts: []hostfile.Host{{Addr: a("127.0.0.1"), Port: 7947}}, want: []string{"127.0.0.1:7947"}},
		{name: "nothing_usable", hosts: []hostfile.Host{{}}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := peersFromHosts(tt.hosts, self)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("peersFromHosts (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSelfMatcherSpecificBind(t *testing.T) {
	ap := netip.MustParseAddrPort
	self := selfMatcher(ap("127.0.0.1:7946"), ap("127.0.0.1:7946"), []netip.Addr{netip.MustParseAddr("127.0.0.1")})
	for p, want := range map[string]bool{"127.0.0.1:7946": true, "127.0.0.1:7947": false, "192.0.2.1:7946": false} {
		if got := self(ap(p)); got != want {
			t.Errorf("self(%s) = %v, want %v", p, got, want)
		}
	}
}

func TestPickHostfile(t *testing.T) {
	home := t.TempDir()
	paths := defaultHostfiles(home)
	if got := pickHostfile(paths); got != filepath.Join(home, ".hosts") {
		t.Errorf("no file: pickHostfile = %s, want ~/.hosts", got)
	}
	if err := os.WriteFile(paths[1], []byte("'192.0.2.1'.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := pickHostfile(paths); got != paths[1] {
		t.Errorf("only .hosts.erlang: pickHostfile = %s", got)
	}
	if err := os.WriteFile(paths[0], nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := pickHostfile(paths); got != paths[0] {
		t.Errorf("both: pickHostfile = %s, want ~/.hosts", got)
	}
}

func TestReadHostfileLenient(t *testing.T) {
	p := filepath.Join(t.TempDir(), "hosts")
	content := "192.0.2.1:7000\n321.321.321.321\napp@192.0.2.2\n"
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	hosts, bad, err := readHostfile(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := peersFromHosts(hosts, nil); !cmp.Equal(got, []string{"192.0.2.1:7000", "192.0.2.2:7946"}) {
		t.Errorf("peers = %v", got)
	}
	if len(bad) != 1 || !strings.Contains(bad[0].Error(), "line 2") {
		t.Errorf("bad lines = %v, want one for line 2", bad)
	}
	if _, _, err := readHostfile(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("readHostfile(missing) succeeded")
	}
}
