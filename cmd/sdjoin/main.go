// Command sdjoin is a service discovery agent: it joins the peers listed in
// a hostfile, tracks services and prints joins and leaves. Its client
// commands (list, members, pick, watch, track, untrack, run) talk to a
// running agent. See sdjoin --help.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/ipfinder-go/ipfinder/internal/cliutil"
	"github.com/ipfinder-go/ipfinder/internal/sdjoincmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, the default action again: a second one
	// ends the process at once, whatever the agent is waiting for.
	context.AfterFunc(ctx, stop)
	code := cliutil.Run(ctx, sdjoincmd.App(os.Stdout, os.Stderr), os.Args)
	stop()
	os.Exit(code)
}
