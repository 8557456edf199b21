//go:build linux

package lab

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// queryA asks, from host from, the lab's mDNS group for name's A record and
// returns the addresses in the answers.
func queryA(t *testing.T, from *Host, name string) []netip.Addr {
	t.Helper()
	var conn *net.UDPConn
	err := from.Do(func() error {
		var err error
		conn, err = net.ListenUDP("udp4", &net.UDPAddr{IP: from.Addr.AsSlice()})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), dns.TypeA)
	q.RecursionDesired = false
	pkt, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	group := &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 5353}
	buf := make([]byte, 9000)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := conn.WriteToUDP(pkt, group); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		for {
			n, _, err := conn.ReadFromUDP(buf)
			if err != nil {
				break // timed out: ask again
			}
			var m dns.Msg
			if m.Unpack(buf[:n]) != nil || m.Id != q.Id {
				continue
			}
			var got []netip.Addr
			for _, rr := range m.Answer {
				if a, ok := rr.(*dns.A); ok && strings.EqualFold(a.Hdr.Name, dns.Fqdn(name)) {
					addr, _ := netip.AddrFromSlice(a.A.To4())
					got = append(got, addr)
				}
			}
			if len(got) > 0 {
				return got
			}
		}
	}
	return nil
}

func TestStartAvahi_answers_mdns(t *testing.T) {
	t.Parallel()
	NeedTools(t, "avahi-daemon")
	l := New(t, Config{Hosts: 4})
	// Several daemons in several namespaces at once.
	for i, h := range l.Hosts[1:] {
		if err := h.StartAvahi(fmt.Sprintf("labhost%d", i+2), Service{Type: "_ssh._tcp", Port: 22}); err != nil {
			t.Fatal(err)
		}
	}
	for i, h := range l.Hosts[1:] {
		name := fmt.Sprintf("labhost%d.local", i+2)
		got := queryA(t, l.Hosts[0], name)
		if len(got) != 1 || got[0] != h.Addr {
			t.Errorf("%s A = %v, want [%v]", name, got, h.Addr)
		}
	}
	// Each daemon runs in its own host's namespace.
	l.mu.Lock()
	procs := append([]*proc(nil), l.procs...)
	l.mu.Unlock()
	for i, p := range procs {
		h := l.Hosts[i+1]
		got, err := statNS(fmt.Sprintf("/proc/%d/ns/net", p.cmd.Process.Pid))
		if err != nil {
			t.Fatal(err)
		}
		want, err := statNS(filepath.Join(nsDir, h.Name))
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("avahi for %v runs in another namespace", h)
		}
	}
}

func TestStartAvahi_bad_hostname(t *testing.T) {
	t.Parallel()
	l := New(t, Config{Hosts: 1})
	if err := l.Hosts[0].StartAvahi("two.labels"); err == nil {
		t.Error("StartAvahi(two.labels) succeeded, want an error")
	}
}

func TestAvahiConf_lab_interface_only(t *testing.T) {
	conf := avahiConf("labhost2", "local", "eth0", families{v4: true})
	for _, want := range []string{"host-name=labhost2\n", "allow-interfaces=eth0\n", "use-ipv6=no\n", "enable-dbus=no\n", "publish-workstation=yes\n", "enable-reflector=no\n"} {
		if !strings.Contains(conf, want) {
			t.Errorf("config lacks %q:\n%s", want, conf)
		}
	}
}

func TestAvahiConf_ipv6_option(t *testing.T) {
	tests := []struct {
		name string
		fam  families
		want []string
	}{
		{"ipv4", families{v4: true}, []string{"use-ipv4=yes\n", "use-ipv6=no\n"}},
		{"dual_stack", families{v4: true, v6: true}, []string{"use-ipv4=yes\n", "use-ipv6=yes\n"}},
		{"ipv6_only", families{v6: true}, []string{"use-ipv4=no\n", "use-ipv6=yes\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf := avahiConf("labhost2", "local", "eth0", tt.fam)
			for _, want := range append(tt.want, "allow-interfaces=eth0\n") {
				if !strings.Contains(conf, want) {
					t.Errorf("config lacks %q:\n%s", want, conf)
				}
			}
		})
	}
}

func TestServiceXML(t *testing.T) {
	tests := []struct {
		name string
		s    Service
		want []string
	}{
		{"host_name", Service{Type: "_ssh._tcp", Port: 22}, []string{`<name replace-wildcards="yes">%h</name>`, "<type>_ssh._tcp</type>", "<port>22</port>"}},
		{"escaped_name", Service{Type: "_http._tcp", Name: "a<b&c", Port: 80}, []string{"<name>a&lt;b&amp;c</name>", "<port>80</port>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(serviceXML(tt.s))
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("service XML lacks %q:\n%s", w, got)
				}
			}
		})
	}
}
