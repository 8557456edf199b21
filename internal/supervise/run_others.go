//go:build !linux

package supervise

import (
	"context"
	"fmt"
	"runtime"
)

// Run runs a command; it is implemented on Linux only, where a
// parent-death signal keeps the command from outliving this process.
func Run(ctx context.Context, argv []string) (int, error) {
	return 1, fmt.Errorf("supervise: not implemented on %s", runtime.GOOS)
}
