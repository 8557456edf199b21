package hostfile

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// listDir returns the names in dir, to find left-over temporary files.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "hosts")

	changed, err := writeFileAtomic(path, []byte("one\n"))
	if err != nil || !changed {
		t.Fatalf("new file: changed=%v err=%v", changed, err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("new file mode %v, want 0644", fi.Mode().Perm())
	}

	changed, err = writeFileAtomic(path, []byte("one\n"))
	if err != nil || changed {
		t.Errorf("same content: changed=%v err=%v, want unchanged", changed, err)
	}

	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	changed, err = writeFileAtomic(path, []byte("two\n"))
	if err != nil || !changed {
		t.Fatalf("new content: changed=%v err=%v", changed, err)
	}
	fi, _ = os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want the old 0600", fi.Mode().Perm())
	}
	if got := readString(t, path); got != "two\n" {
		t.Errorf("content %q", got)
	}
	if names := listDir(t, dir); len(names) != 1 {
		t.Errorf("directory holds %v, want only hosts", names)
	}
}

func TestWriteFileAtomicSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "real", "hosts")
	if err := os.Mkdir(filepath.Dir(target), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(target, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink("real/hosts", link); err != nil {
		t.Fatal(err)
	}
	link2 := filepath.Join(dir, "link2")
	if err := os.Symlink(link, link2); err != nil {
		t.Fatal(err)
	}
	if _, err := writeFileAtomic(link2, []byte("new")); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{link, link2} {
		if fi, err := os.Lstat(l); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			t.Errorf("%s is no longer a symlink: %v", l, err)
		}
	}
	if got := readString(t, target); got != "new" {
		t.Errorf("target holds %q, want new", got)
	}

	dangling := filepath.Join(dir, "dangling")
	if err := os.Symlink("real/created", dangling); err != nil {
		t.Fatal(err)
	}
	if _, err := writeFileAtomic(dangling, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if got := readString(t, filepath.Join(dir, "real", "created")); got != "x" {
		t.Errorf("dangling link target holds %q", got)
	}
}

func TestWriteFileAtomicFailure(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "hosts")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	errRename := errors.New("rename failed")
	renameFile = func(*os.Root, string, string) error { return errRename }
	t.Cleanup(func() { renameFile = (*os.Root).Rename })

	changed, err := writeFileAtomic(path, []byte("new"))
	if !errors.Is(err, errRename) || changed {
		t.Errorf("changed=%v err=%v, want the rename error", changed, err)
	}
	if got := readString(t, path); got != "old" {
		t.Errorf("old file holds %q after a failed write", got)
	}
	if names := listDir(t, dir); len(names) != 1 {
		t.Errorf("directory holds %v after a failed write, want only hosts", names)
	}

	if _, err := writeFileAtomic(dir, []byte("x")); err == nil {
		t.Error("writing over a directory succeeded")
	}
	if _, err := writeFileAtomic(filepath.Join(dir, "missing", "f"), []byte("x")); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}

// TestWriteFileAtomicReaders checks that concurrent readers always see a
// whole file, old or new.
func TestWriteFileAtomicReaders(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hosts")
	a := bytes.Repeat([]byte("a"), 64<<10)
	b := bytes.Repeat([]byte("b"), 32<<10)
	if _, err := writeFileAtomic(path, a); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	var bad error
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			got, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(got, a) && !bytes.Equal(got, b) {
				bad = errors.Join(err, errors.New("reader saw a partial file"))
				return
			}
		}
	})
	for i := range 200 {
		data := a
		if i%2 == 0 {
			data = b
		}
		if _, err := writeFileAtomic(path, data); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	if bad != nil {
		t.Fatal(bad)
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	hosts := []Host{{Addr: addr("192.0.2.1"), Names: []string{"a"}}}
	tests := []struct {
		file string
		want Format
	}{
		{"out.json", JSON},
		{".hosts.erlang", Erlang},
		{"hosts", Hosts},
		{"lan.hosts", Hosts},
		{"list.txt", Plain},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join(dir, tt.file)
			changed, err := WriteFile(path, Auto, hosts)
			if err != nil || !changed {
				t.Fatalf("changed=%v err=%v", changed, err)
			}
			if f := detect([]byte(readString(t, path))); f != tt.want {
				t.Errorf("wrote %v, want %v", f, tt.want)
			}
			changed, err = WriteFile(path, Auto, hosts)
			if err != nil || changed {
				t.Errorf("rewrite: changed=%v err=%v, want unchanged", changed, err)
			}
		})
	}
	t.Run("keeps_existing_format", func(t *testing.T) {
		path := filepath.Join(dir, "misnamed.json")
		if err := os.WriteFile(path, []byte("'192.0.2.9'.\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := WriteFile(path, Auto, hosts); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFile(path, &ParseOptions{Format: Erlang})
		if err != nil || len(got) != 1 || got[0].Addr != addr("192.0.2.1") {
			t.Errorf("ReadFile = %v, %v; want the host in Erlang format", got, err)
		}
	})
}
