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

// Like fs.protected_symlinks, and also in a world-writable directory
// without the sticky bit, which the kernel does not protect: a symbolic
// link another user planted there is not followed, so a run as root
// cannot be made to read (and quote in its errors) a file that user
// cannot read.
func TestReadFileRefusesPlantedSymlink(t *testing.T) {
	if os.Geteuid() != 0 {
		lab.SkipOrFail(t, "planting a link owned by another user needs root")
	}
	planted := func(t *testing.T, uid int, dirMode os.FileMode) (link string) {
		link, victim := lab.PlantedLink(t, uid)
		if err := os.WriteFile(victim, []byte("192.0.2.7 secret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Dir(link), dirMode); err != nil {
			t.Fatal(err)
		}
		return link
	}
	for _, tc := range []struct {
		name    string
		uid     int
		dirMode os.FileMode
		refused bool
	}{
		{"other_users_link", 12345, 0o777 | os.ModeSticky, true},
		{"other_users_link_without_sticky_bit", 12345, 0o777, true},
		{"own_link", os.Geteuid(), 0o777 | os.ModeSticky, false},
		{"other_users_link_in_private_directory", 12345, 0o755, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			link := planted(t, tc.uid, tc.dirMode)
			hosts, err := ReadFile(link, nil)
			if !tc.refused {
				if err != nil || len(hosts) != 1 || hosts[0].Addr != addr("192.0.2.7") {
					t.Fatalf("ReadFile = %v, %v; want the target's host", hosts, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "refusing to follow symbolic link "+link) {
				t.Fatalf("ReadFile = %v, %v; want a refusal naming %s", hosts, err, link)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error quotes the target: %v", err)
			}
		})
	}
}
