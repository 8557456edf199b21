package scan_test

import (
	"context"
	"fmt"
	"log"
	"net/netip"

	"github.com/ipfinder-go/ipfinder/scan"
)

// Reverse DNS through the system's resolver, for addresses an ARP sweep
// found. This example has no Output line on purpose: run, it would touch
// this machine's real network. Never add one.
func ExampleLookupRDNS() {
	servers, err := scan.ResolvConf("/etc/resolv.conf")
	if err != nil {
		log.Fatal(err) // wraps scan.ErrNoResolver when the file names no server
	}
	addrs := []netip.Addr{netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("192.0.2.8")}
	hosts, err := scan.LookupRDNS(context.Background(), addrs, &scan.RDNSConfig{Servers: servers})
	if err != nil {
		log.Fatal(err)
	}
	for _, h := range hosts {
		fmt.Println(h.Addr, h.Names)
	}
}

// NetBIOS names of Windows and Samba hosts. This example has no Output line
// on purpose: run, it would touch this machine's real network. Never add
// one.
func ExampleQueryNetBIOS() {
	addrs := []netip.Addr{netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("192.0.2.8")}
	hosts, err := scan.QueryNetBIOS(context.Background(), addrs, nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, h := range hosts {
		fmt.Println(h.Addr, h.Name, h.Workgroup)
	}
}
