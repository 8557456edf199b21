//go:build unix

package hostfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/lab"
)

func TestWriteFileAtomicKeepsOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		lab.SkipOrFail(t, "keeping the owner needs root")
	}
	path := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(path, []byte("old"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, 12345, 23456); err != nil {
		t.Fatal(err)
	}
	if _, err := writeFileAtomic(path, []byte("new")); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	st := fi.Sys().(*syscall.Stat_t)
	if st.Uid != 12345 || st.Gid != 23456 || fi.Mode().Perm() != 0o640 {
		t.Errorf("owner %d:%d mode %v, want 12345:23456 0640", st.Uid, st.Gid, fi.Mode().Perm())
	}
}

func TestWriteFileRefusesPlantedSymlink(t *testing.T) {
	if os.Geteuid() != 0 {
		lab.SkipOrFail(t, "planting a link owned by another user needs root")
	}
	hosts := []Host{{Addr: addr("192.0.2.1"), Names: []string{"a"}}}
	t.Run("other_users_link", func(t *testing.T) {
		link, victim := lab.PlantedLink(t, 12345)
		_, err := WriteFile(link, Auto, hosts)
		if err == nil || !strings.Contains(err.Error(), "refusing to follow symbolic link "+link) {
			t.Fatalf("err %v, want a refusal naming %s", err, link)
		}
		checkUntouched(t, link, victim)
	})
	t.Run("own_link_to_other_users_link", func(t *testing.T) {
		link, victim := lab.PlantedLink(t, 12345)
		mine := filepath.Join(filepath.Dir(link), "mine")
		if err := os.Symlink(link, mine); err != nil {
			t.Fatal(err)
		}
		if _, err := writeFileAtomic(mine, []byte("x\n")); err == nil || !strings.Contains(err.Error(), link) {
			t.Fatalf("err %v, want a refusal naming %s", err, link)
		}
		checkUntouched(t, link, victim)
	})
	t.Run("own_link", func(t *testing.T) {
		link, victim := lab.PlantedLink(t, os.Geteuid())
		writesThrough(t, link, victim)
	})
	t.Run("link_of_the_directory_owner", func(t *testing.T) {
		link, victim := lab.PlantedLink(t, 12345)
		if err := os.Chown(filepath.Dir(link), 12345, 12345); err != nil {
			t.Fatal(err)
		}
		writesThrough(t, link, victim)
	})
	t.Run("other_users_link_as_directory", func(t *testing.T) {
		link, victim := plantedDirLink(t, 12345)
		_, err := WriteFile(filepath.Join(link, "victim"), Plain, hosts)
		if err == nil || !strings.Contains(err.Error(), "refusing to follow symbolic link "+link) {
			t.Fatalf("err %v, want a refusal naming %s", err, link)
		}
		checkUntouched(t, link, victim)
	})
	t.Run("own_link_to_other_users_directory_link", func(t *testing.T) {
		link, victim := plantedDirLink(t, 12345)
		mine := filepath.Join(filepath.Dir(link), "mine")
		if err := os.Symlink(filepath.Join("hosts", ".", "victim"), mine); err != nil {
			t.Fatal(err)
		}
		if _, err := writeFileAtomic(mine, []byte("x\n")); err == nil || !strings.Contains(err.Error(), link) {
			t.Fatalf("err %v, want a refusal naming %s", err, link)
		}
		checkUntouched(t, link, victim)
	})
	t.Run("own_directory_link", func(t *testing.T) {
		link, victim := lab.PlantedLink(t, os.Geteuid())
		if err := os.Remove(link); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("..", link); err != nil {
			t.Fatal(err)
		}
		if _, err := WriteFile(link+"/victim", Plain, hosts); err != nil {
			t.Fatal(err)
		}
		if got := readString(t, victim); !strings.Contains(got, "192.0.2.1") {
			t.Errorf("target holds %q", got)
		}
	})
	t.Run("other_users_link_in_private_directory", func(t *testing.T) {
		link, victim := lab.PlantedLink(t, 12345)
		if err := os.Chmod(filepath.Dir(link), 0o755); err != nil {
			t.Fatal(err)
		}
		writesThrough(t, link, victim)
	})
}

// Like fs.protected_regular: a file another user planted in a
// world-writable directory is not replaced (the replacement would keep
// that user as owner, who could then rewrite what root wrote), and
// CheckPlanted says so before anything is read from it.
func TestWriteFileRefusesPlantedFile(t *testing.T) {
	if os.Geteuid() != 0 {
		lab.SkipOrFail(t, "planting a file owned by another user needs root")
	}
	hosts := []Host{{Addr: addr("192.0.2.1"), Names: []string{"a"}}}
	for _, tc := range []struct {
		name           string
		owner, dirUser int
		dirMode        fs.FileMode
		refused        bool
	}{
		{"other_users_file", 12345, 0, 0o777 | fs.ModeSticky, true},
		{"other_users_file_without_sticky_bit", 12345, 0, 0o777, true},
		{"own_file", os.Geteuid(), 0, 0o777 | fs.ModeSticky, false},
		{"file_of_the_directory_owner", 12345, 12345, 0o777 | fs.ModeSticky, false},
		{"other_users_file_in_private_directory", 12345, 0, 0o755, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "tmp")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "hosts")
			if err := os.WriteFile(path, []byte("precious\n"), 0o666); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(path, tc.owner, tc.owner); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(dir, tc.dirUser, tc.dirUser); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, tc.dirMode); err != nil {
				t.Fatal(err)
			}
			checkErr := CheckPlanted(path)
			_, err := WriteFile(path, Plain, hosts)
			if !tc.refused {
				if err != nil || checkErr != nil {
					t.Fatalf("WriteFile: %v, CheckPlanted: %v; want no error", err, checkErr)
				}
				return
			}
			want := "refusing to replace " + path
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("WriteFile: %v, want %q", err, want)
			}
			if checkErr == nil || !strings.Contains(checkErr.Error(), want) {
				t.Errorf("CheckPlanted: %v, want %q", checkErr, want)
			}
			if got := readString(t, path); got != "precious\n" {
				t.Errorf("planted file holds %q", got)
			}
		})
	}
}

// plantedDirLink is lab.PlantedLink with the link pointing at the
// victim's directory instead of the victim.
func plantedDirLink(t *testing.T, uid int) (link, victim string) {
	t.Helper()
	link, victim = lab.PlantedLink(t, uid)
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Dir(victim), link); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(link, uid, uid); err != nil {
		t.Fatal(err)
	}
	return link, victim
}

// writesThrough checks that WriteFile follows link and writes its target,
// victim.
func writesThrough(t *testing.T, link, victim string) {
	t.Helper()
	hosts := []Host{{Addr: addr("192.0.2.1"), Names: []string{"a"}}}
	if _, err := WriteFile(link, Plain, hosts); err != nil {
		t.Fatal(err)
	}
	if got := readString(t, victim); !strings.Contains(got, "192.0.2.1") {
		t.Errorf("target of %s holds %q", link, got)
	}
}

// checkUntouched checks that a refused write left the victim, the link
// and the link's directory as they were.
func checkUntouched(t *testing.T, link, victim string) {
	t.Helper()
	if got := readString(t, victim); got != "precious\n" {
		t.Errorf("victim holds %q", got)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("link %s is gone or replaced: %v", link, err)
	}
	for _, dir := range []string{filepath.Dir(link), filepath.Dir(victim)} {
		for _, name := range listDir(t, dir) {
			if strings.HasPrefix(name, tempPrefix) {
				t.Errorf("temporary file %s left in %s", name, dir)
			}
		}
	}
}

func TestWriteFileAtomicRemovesStaleTemps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "hosts")
	old := time.Now().Add(-2 * staleAge)
	files := map[string]bool{ // name: removed
		".ipfinder-hosts-123456":   true,  // ours, killed long ago
		".ipfinder-hosts-654321":   false, // ours, being written right now
		".ipfinder-hosts-1-123456": false, // the temporary file of hosts-1
		".ipfinder-hosts-abc":      false, // not a name os.CreateTemp makes
		".hosts.tmp123":            false, // someone else's
	}
	for name := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
		if name != ".ipfinder-hosts-654321" {
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	if os.Geteuid() == 0 { // a stale file of another user stays
		p := filepath.Join(dir, ".ipfinder-hosts-777")
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, 12345, 12345); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
		files[".ipfinder-hosts-777"] = false
	}
	if _, err := writeFileAtomic(path, []byte("new\n")); err != nil {
		t.Fatal(err)
	}
	for name, removed := range files {
		_, err := os.Lstat(filepath.Join(dir, name))
		if gone := errors.Is(err, fs.ErrNotExist); gone != removed {
			t.Errorf("%s: removed %v, want %v", name, gone, removed)
		}
	}
}

// A directory on the way that another user owns can be swapped for a
// symbolic link between the checks and the write: the write must not
// follow it (here to a root-owned directory holding a file of the same
// name).
func TestWriteFileDirectorySwappedAfterCheck(t *testing.T) {
	if os.Geteuid() != 0 {
		lab.SkipOrFail(t, "a directory owned by another user needs root")
	}
	top := t.TempDir()
	shared := lab.SharedDir(t, top)
	theirs := filepath.Join(shared, "theirs")
	if err := os.Mkdir(theirs, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(theirs, 12345, 12345); err != nil {
		t.Fatal(err)
	}
	private := filepath.Join(top, "etc")
	if err := os.Mkdir(private, 0o755); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(private, "hosts")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	swapped := false
	afterCheck = func(dir string) {
		if filepath.Clean(dir) != theirs || swapped {
			return
		}
		swapped = true
		if err := os.Rename(theirs, theirs+".old"); err != nil {
			t.Error(err)
		}
		if err := os.Symlink(private, theirs); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(func() { afterCheck = func(string) {} })
	_, err := WriteFile(filepath.Join(theirs, "hosts"), Plain, []Host{{Addr: addr("192.0.2.1")}})
	if !swapped {
		t.Fatal("the hook never ran: the test no longer swaps anything")
	}
	if err == nil || !strings.Contains(err.Error(), "changed while") {
		t.Errorf("WriteFile: %v, want an error saying the directory changed", err)
	}
	if got := readString(t, victim); got != "precious\n" {
		t.Errorf("the file behind the swapped-in link holds %q", got)
	}
	for _, name := range listDir(t, private) {
		if strings.HasPrefix(name, tempPrefix) {
			t.Errorf("temporary file %s left in %s", name, private)
		}
	}
}
