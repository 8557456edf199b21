package scan_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"time"

	"github.com/ipfinder-go/ipfinder/scan"
)

// Sweep every attached IPv4 subnet and name the vendors. It needs
// CAP_NET_RAW, so it is compiled but not run.
// This example has no Output line on purpose: run, it would touch this
// machine\'s real network. Never add one.
func ExampleSweepARP() {
	ifaces, err := scan.Interfaces()
	if err != nil {
		log.Fatal(err)
	}
	vendors, _ := scan.DefaultVendors() // nil without a registry: no names
	plans, err := scan.Targets(ifaces, nil, nil, false)
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range plans {
		ifi, err := net.InterfaceByName(p.Iface.Name)
		if err != nil {
			log.Fatal(err)
		}
		replies, err := scan.SweepARP(context.Background(), ifi, p.Targets, &scan.ARPConfig{
			Timeout: 300 * time.Millisecond,
		})
		if err != nil {
			log.Fatal(err) // e.g. "need CAP_NET_RAW to send ARP: ..."
		}
		for _, r := range replies {
			fmt.Println(r.Addr, r.MAC, vendors.Lookup(r.MAC), r.Conflict)
		}
	}
}
