//go:build sdjoin_pprof

package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
)

// Built with -tags sdjoin_pprof and run with SDJOIN_PPROF=ADDR:PORT (a
// loopback address) in its environment, sdjoin serves net/http/pprof
// there, for profiling (see bench/serf). It is not part of the
// documented interface. Not built by default: importing runtime/pprof
// turns on Go's memory profiling, whose bucket table alone is 1.4 MB of
// every agent's private memory (issue 15).
func init() {
	a := os.Getenv("SDJOIN_PPROF")
	if a == "" {
		return
	}
	if err := servePprof(a); err != nil {
		fmt.Fprintf(os.Stderr, "sdjoin: SDJOIN_PPROF=%s: %v (give a loopback ADDR:PORT)\n", a, err)
	}
}

func servePprof(a string) error {
	ap, err := netip.ParseAddrPort(a)
	if err != nil {
		return err
	}
	if !ap.Addr().IsLoopback() {
		return fmt.Errorf("%v is not a loopback address", ap.Addr())
	}
	ln, err := net.Listen("tcp", ap.String())
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	go http.Serve(ln, mux) // lives as long as the process
	return nil
}
