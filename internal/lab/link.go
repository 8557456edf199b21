package lab

import (
	"os"
	"path/filepath"
	"testing"
)

// SharedDir makes parent/tmp, a world-writable directory with the sticky
// bit, as /tmp is, and returns its path.
func SharedDir(tb testing.TB, parent string) string {
	tb.Helper()
	tmp := filepath.Join(parent, "tmp")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.Chmod(tmp, 0o777|os.ModeSticky); err != nil { // past the umask
		tb.Fatal(err)
	}
	return tmp
}

// PlantedLink sets the scene of a symlink attack on a file writer: a
// world-writable sticky directory "tmp" in a new temporary directory, and in
// it a symbolic link "hosts", owned by uid, pointing at a file "victim"
// (holding "precious\n") outside tmp. It returns the link and the victim.
// Giving the link to another user than the test's needs root.
func PlantedLink(tb testing.TB, uid int) (link, victim string) {
	tb.Helper()
	dir := tb.TempDir()
	victim = filepath.Join(dir, "victim")
	link = filepath.Join(SharedDir(tb, dir), "hosts")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.Symlink(victim, link); err != nil {
		tb.Fatal(err)
	}
	if err := os.Lchown(link, uid, uid); err != nil {
		tb.Fatal(err)
	}
	return link, victim
}
