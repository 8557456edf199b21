// Command ipfinder finds the hosts on the local subnets with ARP and mDNS and
// writes a hostfile. See ipfinder --help.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/ipfinder-go/ipfinder/internal/cliutil"
	"github.com/ipfinder-go/ipfinder/internal/ipfindercmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cliutil.Run(ctx, ipfindercmd.App(os.Stdout, os.Stderr), os.Args)
	stop()
	os.Exit(code)
}
