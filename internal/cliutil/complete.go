package cliutil

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"
)

// CompleteFlag, as the last argument, asks for the shell completions of
// the word before it (the word being completed, maybe empty), one per
// line on stdout. The scripts in docs/completion call the command so.
// It is urfave/cli's flag name, with our own handling: cli v2.27's
// panics on a subcommand's flag without its value and cannot complete
// a partly typed flag when short options are combined.
const CompleteFlag = "--generate-bash-completion"

// complete prints the completions of words (the command line after the
// program's name, up to and including the word being completed): the
// flags of the command being run when the word starts with '-', nothing
// after a flag that takes a value (the shell then completes file names),
// else the command names, or what the command's BashComplete prints
// (given a context with the flags typed so far).
func complete(app *cli.App, words []string) {
	app.Setup() // adds --help and --version
	if len(words) == 0 {
		words = []string{""}
	}
	cur, typed := words[len(words)-1], words[:len(words)-1]
	st := walk(app, typed)
	switch {
	case st.afterDashes || st.wantValue:
	case strings.HasPrefix(cur, "-"):
		for _, f := range st.flags {
			printFlag(app.Writer, f, cur)
		}
	case st.cmd == nil && st.args == 0:
		for _, c := range app.VisibleCommands() {
			if strings.HasPrefix(c.Name, cur) {
				fmt.Fprintln(app.Writer, c.Name)
			}
		}
	case st.cmd != nil && st.cmd.BashComplete != nil && st.args == 0:
		st.cmd.BashComplete(st.context(app))
	}
}

// walkState is what the words typed before the one being completed say.
type walkState struct {
	cmd         *cli.Command // the subcommand, nil for the app itself
	flags       []cli.Flag   // its flags
	set         []string     // the flags given, as --name=value
	args        int          // positional arguments after cmd
	wantValue   bool         // the last word is a flag that takes a value
	afterDashes bool         // "--" came: the rest is not ours to complete
}

func walk(app *cli.App, typed []string) walkState {
	st := walkState{flags: visible(app.Flags)}
	var pending string
	for _, w := range typed {
		switch {
		case st.wantValue:
			st.set = append(st.set, pending+"="+w)
			st.wantValue = false
		case w == "--":
			st.afterDashes = true
			return st
		case strings.HasPrefix(w, "-"):
			name, _, hasValue := strings.Cut(strings.TrimLeft(w, "-"), "=")
			if f := findFlag(st.flags, name); f != nil && takesValue(f) && !hasValue {
				pending, st.wantValue = "--"+name, true
			} else if f != nil {
				st.set = append(st.set, "--"+strings.TrimLeft(w, "-"))
			}
		case st.cmd == nil && app.Command(w) != nil:
			st.cmd = app.Command(w)
			st.flags, st.set = visible(st.cmd.Flags), nil
		default:
			st.args++
		}
	}
	return st
}

// context returns a context of the subcommand with the flags typed so
// far set (values that do not parse are left out).
func (st walkState) context(app *cli.App) *cli.Context {
	set := flag.NewFlagSet(st.cmd.Name, flag.ContinueOnError)
	set.SetOutput(io.Discard)
	for _, f := range st.cmd.Flags {
		f.Apply(set)
	}
	for _, s := range st.set {
		set.Parse([]string{s})
	}
	c := cli.NewContext(app, set, cli.NewContext(app, flag.NewFlagSet(app.Name, flag.ContinueOnError), nil))
	c.Command = st.cmd
	return c
}

func visible(flags []cli.Flag) []cli.Flag {
	var out []cli.Flag
	for _, f := range flags {
		if vf, ok := f.(cli.VisibleFlag); !ok || vf.IsVisible() {
			out = append(out, f)
		}
	}
	return out
}

func findFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

func takesValue(f cli.Flag) bool {
	d, ok := f.(cli.DocGenerationFlag)
	return ok && d.TakesValue()
}

// printFlag prints the names of f that start with cur: long names as
// --name, one-letter ones only when cur is "-" or "-x".
func printFlag(w io.Writer, f cli.Flag, cur string) {
	for _, n := range f.Names() {
		dashed := "--" + n
		if len(n) == 1 {
			if strings.HasPrefix(cur, "--") {
				continue
			}
			dashed = "-" + n
		}
		if strings.HasPrefix(dashed, cur) {
			fmt.Fprintln(w, dashed)
		}
	}
}
