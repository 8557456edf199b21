package scan_test

import (
	"context"
	"fmt"
	"log"
	"net"

	"github.com/ipfinder-go/ipfinder/scan"
)

// The IPv6 addresses of the hosts on eth0's link, with their MACs. This
// example has no Output line on purpose: run, it would touch this
// machine's real network. Never add one.
func ExampleFindIPv6() {
	ifi, err := net.InterfaceByName("eth0")
	if err != nil {
		log.Fatal(err)
	}
	neighbors, err := scan.FindIPv6(context.Background(), ifi, nil) // needs CAP_NET_RAW
	if err != nil {
		log.Fatal(err)
	}
	for _, n := range neighbors {
		fmt.Println(n.Addr, n.MAC) // fe80::...%eth0, 2001:db8::... and fd..::... addresses
	}
}
