//go:build !linux

package check

import (
	"context"
	"fmt"
	"runtime"
)

func execSupported() error {
	return fmt.Errorf("exec checks are not implemented on %s", runtime.GOOS)
}

func runExec(context.Context, []string) Result {
	return Result{Output: execSupported().Error()}
}
