package check_test

import (
	"context"
	"fmt"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/check"
)

func ExampleSpec_Run() {
	spec, err := check.Parse(`exec:sh -c 'echo not ready; exit 1'`)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	res := spec.Run(ctx)
	fmt.Println(res.Pass, res.Output)
	// Output:
	// false exit status 1: not ready
}
