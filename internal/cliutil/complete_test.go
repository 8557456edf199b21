package cliutil

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

func completeApp(out *bytes.Buffer) *cli.App {
	return &cli.App{
		Name:   "tool",
		Writer: out, ErrWriter: out,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}},
			&cli.BoolFlag{Name: "secret", Hidden: true},
		},
		Commands: []*cli.Command{
			{Name: "pick", Flags: []cli.Flag{&cli.StringFlag{Name: "socket"}, &cli.StringFlag{Name: "policy"}},
				BashComplete: func(c *cli.Context) { fmt.Fprintf(c.App.Writer, "svc-of-%s\n", c.String("socket")) }},
			{Name: "plain"},
		},
	}
}

// TestComplete: the --generate-bash-completion protocol, in-process;
// cli v2.27's own panicked on "pick --socket <TAB>" and printed nothing
// for a partly typed flag of an app with short option handling.
func TestComplete(t *testing.T) {
	tests := []struct {
		name  string
		words []string // after the program name; the last is being completed
		want  []string
	}{
		{"commands", []string{""}, []string{"pick", "plain", "help"}},
		{"command_prefix", []string{"pi"}, []string{"pick"}},
		{"app_flags", []string{"-"}, []string{"--format", "-f", "--verbose", "-v", "--help", "-h"}},
		{"long_prefix", []string{"--v"}, []string{"--verbose"}},
		{"value_left_to_shell", []string{"-f", ""}, nil},
		{"command_flags", []string{"pick", "--p"}, []string{"--policy"}},
		{"command_flag_value", []string{"pick", "--socket", ""}, nil},
		{"bash_complete_gets_flags", []string{"pick", "--socket", "/s", ""}, []string{"svc-of-/s"}},
		{"bash_complete_flag_equals", []string{"pick", "--socket=/t", ""}, []string{"svc-of-/t"}},
		{"argument_given", []string{"pick", "web", ""}, nil},
		{"no_bash_complete", []string{"plain", ""}, nil},
		{"after_dashes", []string{"pick", "--", ""}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			args := append(append([]string{"tool"}, tt.words...), CompleteFlag)
			if code := Run(context.Background(), completeApp(&out), args); code != 0 {
				t.Fatalf("exit %d: %s", code, out.String())
			}
			got := strings.Fields(out.String())
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("completing %q: %q, want %q", tt.words, got, tt.want)
			}
		})
	}
}
