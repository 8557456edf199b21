//go:build linux

package supervise_test

import (
	"context"
	"fmt"

	"github.com/ipfinder-go/ipfinder/internal/supervise"
)

func ExampleRun() {
	status, err := supervise.Run(context.Background(), []string{"sh", "-c", "exit 3"})
	fmt.Println(status, err)

	status, err = supervise.Run(context.Background(), []string{"no-such-command"})
	fmt.Println(status, err)
	// Output:
	// 3 <nil>
	// 127 command "no-such-command" not found: check its name and $PATH
}
