// Command gendocs writes the man pages and shell completions of ipfinder
// and sdjoin (docs/man, docs/completion) from the same cli.App
// definitions that print --help, plus the hand-written sections in
// extra/. Run `go generate ./...` after changing a flag, a usage line or
// a manual text: TestDocsFresh fails while the checked-in files are
// stale.
package main

//go:generate go run . -root ../..

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	root := flag.String("root", ".", "repository `DIR` to write docs/ into")
	flag.Parse()
	files, err := render()
	if err != nil {
		fmt.Fprintf(os.Stderr, "gendocs: %v\n", err)
		os.Exit(1)
	}
	for _, f := range files {
		path := filepath.Join(*root, f.path)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			fmt.Fprintf(os.Stderr, "gendocs: %v\n", err)
			os.Exit(1)
		}
		if err := os.WriteFile(path, f.data, 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "gendocs: %v\n", err)
			os.Exit(1)
		}
	}
}
