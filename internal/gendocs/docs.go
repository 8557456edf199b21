package main

import (
	"embed"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/ipfinder-go/ipfinder/internal/ipfindercmd"
	"github.com/ipfinder-go/ipfinder/internal/sdjoincmd"
)

// regenerate is the command that rewrites the generated files.
const regenerate = "go generate ./..."

// extra holds the hand-written man page sections of each command
// (EXIT STATUS, FILES, EXAMPLES, SEE ALSO), in markdown.
//
//go:embed extra/*.md
var extra embed.FS

// file is one generated file, path relative to the repository root.
type file struct {
	path string
	data []byte
}

// apps returns the commands to document.
func apps() []*cli.App {
	return []*cli.App{
		ipfindercmd.App(io.Discard, io.Discard),
		sdjoincmd.App(io.Discard, io.Discard),
	}
}

// render returns every generated file: per command, its man page and
// its bash, zsh and fish completions.
func render() ([]file, error) {
	var files []file
	for _, app := range apps() {
		app.Setup() // adds --help and --version
		more, err := extra.ReadFile("extra/" + app.Name + ".md")
		if err != nil {
			return nil, err
		}
		files = append(files,
			file{"docs/man/" + app.Name + ".1", manPage(app, string(more))},
			file{"docs/completion/" + app.Name + ".bash", bashCompletion(app.Name)},
			file{"docs/completion/_" + app.Name, zshCompletion(app.Name)},
			file{"docs/completion/" + app.Name + ".fish", fishCompletion(app.Name)},
		)
	}
	return files, nil
}
