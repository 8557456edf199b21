package scan_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/netip"
	"time"

	"github.com/ipfinder-go/ipfinder/scan"
)

// BrowseMDNS runs next to an ARP sweep that streams the addresses it finds;
// closing the channel lets the browse finish as soon as the link is quiet.
// This example has no Output line on purpose: run, it would touch this
// machine\'s real network. Never add one.
func ExampleBrowseMDNS() {
	ifi, err := net.InterfaceByName("eth0")
	if err != nil {
		log.Fatal(err)
	}
	found := make(chan netip.Addr, 256)
	go func() {
		defer close(found)
		found <- netip.MustParseAddr("192.0.2.7") // from the ARP sweep
	}()
	hosts, err := scan.BrowseMDNS(context.Background(), ifi, found, &scan.MDNSConfig{Timeout: time.Second})
	if err != nil {
		log.Fatal(err)
	}
	for _, h := range hosts {
		fmt.Println(h.Addr, h.Names, h.Services)
	}
}

// This example has no Output line on purpose: run, it would touch this
// machine\'s real network. Never add one.
func ExampleEPMDNames() {
	names, err := scan.EPMDNames(context.Background(), netip.MustParseAddr("192.0.2.7"))
	if err != nil {
		log.Fatal(err)
	}
	for _, n := range names {
		fmt.Printf("%s@192.0.2.7\n", n)
	}
}

// LookupMDNS resolves .local names the way sdjoin resolves its hostfile.
// This example has no Output line on purpose: run, it would touch this
// machine's real network. Never add one.
func ExampleLookupMDNS() {
	ifi, err := net.InterfaceByName("eth0")
	if err != nil {
		log.Fatal(err)
	}
	addrs, err := scan.LookupMDNS(context.Background(), ifi, []string{"nas.local", "printer.local"}, nil)
	if err != nil {
		log.Fatal(err)
	}
	for name, as := range addrs {
		fmt.Println(name, as)
	}
}
