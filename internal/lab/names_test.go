//go:build linux

package lab

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStartDNS_UseResolver_StartNMBD(t *testing.T) {
	t.Parallel()
	NeedTools(t, "dnsmasq", "nmbd", "nslookup", "nbtscan")
	l := New(t, Config{Hosts: 3})
	router, client, samba := l.Hosts[0], l.Hosts[1], l.Hosts[2]
	// Every host starts without a DNS server: not the machine's.
	if out := Shell(t, client, "cat /etc/resolv.conf"); strings.Contains(out, "nameserver") {
		t.Errorf("a new host's resolv.conf names a server:\n%s", out)
	}
	if err := router.StartDNS(map[string]netip.Addr{"client2.lan": client.Addr}); err != nil {
		t.Fatal(err)
	}
	if err := client.UseResolver(router.Addr); err != nil {
		t.Fatal(err)
	}
	// nslookup (dnsutils) reads the host's own resolv.conf.
	out := Shell(t, client, "cat /etc/resolv.conf; nslookup "+client.Addr.String())
	if !strings.Contains(out, "nameserver "+router.Addr.String()) || !strings.Contains(out, "client2.lan") {
		t.Errorf("client's resolver does not name it client2.lan:\n%s", out)
	}
	if err := samba.StartNMBD("SAMBA3", "LABGROUP"); err != nil {
		t.Fatal(err)
	}
	out = Shell(t, client, "nbtscan -q "+samba.Addr.String())
	if !strings.Contains(out, "SAMBA3") {
		t.Errorf("nbtscan does not see SAMBA3:\n%s", out)
	}
	dir := filepath.Join(netnsEtc, client.Name)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s left behind after Close (%v)", dir, err)
	}
}
