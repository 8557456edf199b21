package rename_test

import (
	"context"
	"fmt"
	"log/slog"

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
