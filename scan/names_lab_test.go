//go:build linux

package scan

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// TestNamesLab asks real daemons in a lab: Samba's nmbd for NetBIOS and
// dnsmasq, as a home router's DNS, for reverse DNS; a host that runs
// neither stays silent.
func TestNamesLab(t *testing.T) {
	lab.NeedTools(t, "nmbd", "dnsmasq")
	l := lab.New(t, lab.Config{Hosts: 4})
	client, samba, router, bare := l.Hosts[0], l.Hosts[1], l.Hosts[2], l.Hosts[3]
	if err := samba.StartNMBD("SAMBA2", "LABGROUP"); err != nil {
		t.Fatal(err)
	}
	if err := router.StartDNS(map[string]netip.Addr{"samba2.lan": samba.Addr, "router.lan": router.Addr}); err != nil {
		t.Fatal(err)
	}
	var nbConn, dnsConn net.PacketConn
	err := client.Do(func() (err error) {
		if nbConn, err = net.ListenPacket("udp4", "0.0.0.0:0"); err != nil {
			return err
		}
		dnsConn, err = net.ListenPacket("udp4", "0.0.0.0:0")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	addrs := []netip.Addr{samba.Addr, router.Addr, bare.Addr}

	nb := NewNetBIOS(nbConn)
	defer nb.Close()
	hosts, err := nb.Query(context.Background(), addrs, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantNB := []NetBIOSHost{{Addr: samba.Addr, Name: "samba2", Workgroup: "LABGROUP"}}
	if diff := cmp.Diff(wantNB, hosts, cmpAddr); diff != "" {
		t.Errorf("NetBIOS Query (-want +got):\n%s", diff)
	}

	rd := NewRDNS(dnsConn)
	defer rd.Close()
	names, err := rd.Lookup(context.Background(), addrs, &RDNSConfig{Servers: []netip.AddrPort{netip.AddrPortFrom(router.Addr, 53)}})
	if err != nil {
		t.Fatal(err)
	}
	wantDNS := []RDNSHost{
		{Addr: samba.Addr, Names: []string{"samba2.lan"}},
		{Addr: router.Addr, Names: []string{"router.lan"}},
	}
	if diff := cmp.Diff(wantDNS, names, cmpAddr); diff != "" {
		t.Errorf("reverse DNS Lookup (-want +got):\n%s", diff)
	}
}
