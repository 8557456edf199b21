//go:build unix

package hostfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// readFileWithin runs ReadFile on path and fails the test when it does not
// return within a generous deadline.
func readFileWithin(t *testing.T, path string) error {
	t.Helper()
	return lab.Within(t, 10*time.Second, "ReadFile("+path+")", func() error {
		_, err := ReadFile(path, nil)
		return err
	})
}

func TestReadFileRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := lab.FIFO(t, dir, "fifo")
	held := lab.FIFO(t, dir, "held")
	// A writer that keeps the FIFO open and never writes.
	w, err := os.OpenFile(held, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, maxSize+1); err != nil { // sparse
		t.Fatal(err)
	}
	tests := []struct {
		name, path, want string
	}{
		{"fifo_without_writer", fifo, "is a named pipe (FIFO), not a regular file"},
		{"fifo_held_open", held, "is a named pipe (FIFO), not a regular file"},
		{"dev_zero", "/dev/zero", "is a character device, not a regular file"},
		{"directory", dir, "is a directory, not a regular file"},
		{"too_large", big, "is larger than 64 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := readFileWithin(t, tt.path)
			if err == nil || !strings.Contains(err.Error(), tt.path+" "+tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err %v, want one line with %q", err, tt.path+" "+tt.want)
			}
		})
	}
}
