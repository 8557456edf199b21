package rename_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"

	"github.com/ipfinder-go/ipfinder/rename"
)

// This example has no Output line on purpose: run, it would touch this
// machine\'s real network. Never add one.
func ExampleWatch() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := rename.Watch(ctx, &rename.Config{Family: 4, Logger: slog.Default()})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer w.Close()
	fmt.Println("identity:", w.Current())
	go func() {
		for c := range w.Changes() {
			switch {
			case !c.New.IsValid():
				fmt.Println("lost", c.Old)
			case !c.Old.IsValid():
				fmt.Println("got", c.New)
			default:
				fmt.Println("moved", c.Old, "->", c.New)
			}
		}
	}()
	// ... run until done, then cancel.
}

func ExampleChoose() {
	addrs := []rename.Addr{
		{Ifindex: 1, Ifname: "lo", Prefix: netip.MustParsePrefix("127.0.0.1/8"), Scope: rename.ScopeHost},
		{Ifindex: 2, Ifname: "eth0", Prefix: netip.MustParsePrefix("2001:db8::5/64")},
		{Ifindex: 2, Ifname: "eth0", Prefix: netip.MustParsePrefix("2001:db8::1/64"), Flags: rename.FlagTemporary},
		{Ifindex: 3, Ifname: "wlan0", Prefix: netip.MustParsePrefix("192.0.2.7/24")},
	}
	fmt.Println(rename.Choose(addrs, 2)) // the default route is on eth0
	fmt.Println(rename.Choose(addrs, 0)) // no default route: IPv4 first
	// Output:
	// 2001:db8::5
	// 192.0.2.7
}
