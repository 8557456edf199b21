// Command labclean removes virtual LANs (network namespaces named "ipfl-...")
// left behind by test or benchmark processes that crashed, killing the
// processes still running in them.
//
// Usage:
//
//	go run ./internal/lab/cmd/labclean [-all]
//
// It prints each deleted namespace on stdout. Without -all it keeps labs of
// processes that are still running. Needs root.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/ipfinder-go/ipfinder/internal/lab"
)

func main() {
	all := flag.Bool("all", false, "also remove labs of running processes")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: labclean [-all]")
		os.Exit(2)
	}
	removed, err := lab.CleanStale(*all)
	for _, name := range removed {
		fmt.Println(name)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "labclean:", err)
		os.Exit(1)
	}
}
