package main

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/cpuguy83/go-md2man/v2/md2man"
	"github.com/urfave/cli/v2"
)

// manPage renders app's man page (section 1): NAME, SYNOPSIS (its
// UsageText), DESCRIPTION (its Description), OPTIONS, COMMANDS, then
// the hand-written sections more, in markdown, through go-md2man.
func manPage(app *cli.App, more string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%% %s 1\n\n# NAME\n\n%s - %s\n\n# SYNOPSIS\n\n", app.Name, app.Name, escape(app.Usage))
	synopsis(&b, app.UsageText)
	b.WriteString("# DESCRIPTION\n\n")
	description(&b, app.Description)
	b.WriteString("# OPTIONS\n\n")
	options(&b, app.VisibleFlags())
	if cmds := app.VisibleCommands(); len(cmds) > 0 {
		b.WriteString("# COMMANDS\n\n")
		for _, c := range cmds {
			command(&b, app.Name, c)
		}
	}
	b.WriteString(strings.TrimSpace(more) + "\n")
	return md2man.Render([]byte(b.String()))
}

// synopsis writes each line of a usage text as a line of its own, the
// command names in bold.
func synopsis(b *strings.Builder, usage string) {
	lines := strings.Split(strings.TrimSpace(usage), "\n")
	for i, l := range lines {
		name, rest, _ := strings.Cut(strings.TrimSpace(l), " ")
		sub, after, ok := strings.Cut(rest, " ")
		if ok && isWord(sub) {
			name, rest = name+" "+sub, after
		}
		fmt.Fprintf(b, "**%s** %s", name, escape(rest))
		if i < len(lines)-1 {
			b.WriteString("  ") // a line break
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}

var (
	wordRE    = regexp.MustCompile(`^[a-z][a-z|]*$`)
	headingRE = regexp.MustCompile(`^([A-Z][A-Z0-9 ]+)\. (.*)$`)
)

func isWord(s string) bool { return wordRE.MatchString(s) }

// description converts a --help text to markdown: lines indented by
// three spaces are code blocks, a paragraph starting with "HEADING. " a
// subsection, the rest text.
func description(b *strings.Builder, text string) {
	inCode := false
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		code := strings.HasPrefix(l, "   ")
		switch {
		case code && !inCode:
			b.WriteString("```\n")
		case !code && inCode:
			b.WriteString("```\n")
		}
		inCode = code
		switch {
		case code:
			b.WriteString(strings.TrimPrefix(l, "   ") + "\n")
		case headingRE.MatchString(l):
			m := headingRE.FindStringSubmatch(l)
			fmt.Fprintf(b, "## %s\n\n%s\n", m[1], escape(m[2]))
		default:
			b.WriteString(escape(l) + "\n")
		}
	}
	if inCode {
		b.WriteString("```\n")
	}
	b.WriteString("\n")
}

// options writes flags as a definition list: the names and value
// placeholder, then the usage and any default.
func options(b *strings.Builder, flags []cli.Flag) {
	for _, f := range flags {
		d, ok := f.(cli.DocGenerationFlag)
		if !ok {
			continue
		}
		placeholder, usage := unquoteUsage(d.GetUsage())
		if d.TakesValue() && placeholder == "" {
			placeholder = "value"
		}
		var names []string
		for _, n := range f.Names() {
			dash := "--"
			if len(n) == 1 {
				dash = "-"
			}
			name := "**" + escape(dash+n) + "**"
			if d.TakesValue() {
				name += " *" + escape(placeholder) + "*"
			}
			names = append(names, name)
		}
		if def := d.GetValue(); d.TakesValue() && !isZero(def) {
			usage += fmt.Sprintf(" (default: %s)", def)
		}
		fmt.Fprintf(b, "%s\n:   %s\n\n", strings.Join(names, ", "), escape(usage))
	}
}

// command writes a subcommand as a subsection.
func command(b *strings.Builder, app string, c *cli.Command) {
	fmt.Fprintf(b, "## %s\n\n", c.Name)
	usage := c.UsageText
	if usage == "" {
		usage = strings.TrimSpace(app + " " + c.Name + " [options] " + c.ArgsUsage)
	}
	synopsis(b, usage)
	b.WriteString(escape(c.Usage) + ".\n\n")
	if c.Description != "" {
		description(b, c.Description)
	}
	options(b, c.VisibleFlags())
}

// unquoteUsage returns the `PLACEHOLDER` of a usage text (as cli marks
// it) and the text without the backquotes.
func unquoteUsage(usage string) (string, string) {
	i := strings.IndexByte(usage, '`')
	if i < 0 {
		return "", usage
	}
	j := strings.IndexByte(usage[i+1:], '`')
	if j < 0 {
		return "", usage
	}
	name := usage[i+1 : i+1+j]
	return name, usage[:i] + name + usage[i+2+j:]
}

func isZero(v string) bool {
	switch v {
	case "", "0", "0s", "false", "[]":
		return true
	}
	return false
}

// escape makes text literal in markdown.
func escape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune("\\`*_[]<>#|", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
