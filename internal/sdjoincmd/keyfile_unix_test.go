//go:build unix

package sdjoincmd

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadKeyFileBounded: a key file that is not a regular file (FIFO,
// device, directory) or is oversized is refused at once.
func TestReadKeyFileBounded(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, want string
	}{
		{"fifo", fifo, "not a regular file"},
		{"dev_zero", "/dev/zero", "not a regular file"},
		{"directory", dir, "not a regular file"},
		{"oversized", big, "over 4096 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() {
				_, err := readKeyFile(tc.path)
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("readKeyFile(%s) = %v, want %q", tc.path, err, tc.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("readKeyFile(%s) blocked", tc.path)
			}
		})
	}
}
