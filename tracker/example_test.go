package tracker_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/ipfinder-go/ipfinder/tracker"
)

func Example() {
	a, err := tracker.New(&tracker.Config{Name: "a@127.0.0.1", BindAddr: netip.MustParseAddrPort("127.0.0.1:0")})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer a.Close()
	b, err := tracker.New(&tracker.Config{Name: "b@127.0.0.1", BindAddr: netip.MustParseAddrPort("127.0.0.1:0")})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close()

	sub := b.Subscribe("http")
	defer sub.Close()
	if _, err := b.Join([]string{a.Addr().String()}); err != nil {
		fmt.Println(err)
		return
	}
	if _, err := a.Track("http", "web1", map[string]string{"port": "8080", "load": "3"}); err != nil {
		fmt.Println(err)
		return
	}
	select {
	case d := <-sub.C:
		fmt.Println(d.Service, d.Joins[0].Node, d.Joins[0].Key, d.Joins[0].Meta["port"])
	case <-time.After(5 * time.Second):
		fmt.Println("timeout")
	}
	p, err := b.Pick("http", tracker.Least("load"))
	fmt.Println(p.Key, err)
	// Output:
	// http a@127.0.0.1 web1 8080
	// web1 <nil>
}
