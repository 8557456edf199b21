//go:build linux

package lab_test

import (
	"context"
	"fmt"
	"net"

	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// A benchmark or demo builds a lab with Start (tests use lab.New, which
// also closes it), runs a command on one host against another and opens a
// socket inside a host's namespace.
func ExampleStart() {
	l, err := lab.Start(lab.Config{Hosts: 3})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	a, b := l.Hosts[0], l.Hosts[1]

	out, err := a.Command(context.Background(), "busybox", "ping", "-c1", b.Addr.String()).CombinedOutput()
	fmt.Printf("%s %v\n", out, err)

	var conn net.PacketConn
	err = b.Do(func() (err error) {
		conn, err = net.ListenPacket("udp4", b.Addr.String()+":0") // stays in b's namespace
		return err
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
}
