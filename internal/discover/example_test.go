package discover_test

import (
	"fmt"
	"net/netip"

	"github.com/ipfinder-go/ipfinder/internal/discover"
)

// Announce a node on the interface of its address and print the peers of
// its cluster as they are heard.
func ExampleStart() {
	addr := netip.MustParseAddrPort("192.0.2.10:7946")
	ifi, err := discover.InterfaceOf(addr.Addr())
	if err != nil {
		fmt.Println(err) // loopback, no multicast, or not this machine's
		return
	}
	a, err := discover.Start(ifi, &discover.Config{
		Instance: "node1@192.0.2.10",
		Addr:     addr,
		Cluster:  "lab",
		Found:    func(p discover.Peer) { fmt.Println(p.Instance, p.Addr, p.Gone) },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer a.Close() // says goodbye
}
