package cliutil

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

func TestPositional(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    []string
		format  string
		json    bool
		code    int
		errPart string
	}{
		{name: "flags_first", args: []string{"-f", "plain", "a"}, want: []string{"a"}, format: "plain"},
		{name: "flags_after", args: []string{"a", "-f", "plain", "--json"}, want: []string{"a"}, format: "plain", json: true},
		{name: "flag_with_equals", args: []string{"a", "--format=json"}, want: []string{"a"}, format: "json"},
		{name: "bool_with_value", args: []string{"a", "--json=false"}, want: []string{"a"}, format: "hosts"},
		{name: "dash_is_an_argument", args: []string{"-", "-f", "plain"}, want: []string{"-"}, format: "plain"},
		{name: "double_dash_ends_flags", args: []string{"a", "--", "-f"}, want: []string{"a", "-f"}, format: "hosts"},
		{name: "none", args: nil, want: nil, format: "hosts"},
		{name: "unknown_flag", args: []string{"a", "--bogus"}, code: 2, errPart: "sub: flag provided but not defined: --bogus"},
		{name: "missing_value", args: []string{"a", "-f"}, code: 2, errPart: "sub: flag needs an argument: -f"},
		{name: "too_many", args: []string{"a", "b", "c"}, code: 2, errPart: `sub: unexpected argument "c"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			var format string
			var json bool
			var stderr bytes.Buffer
			app := &cli.App{
				Name: "x", Writer: &bytes.Buffer{}, ErrWriter: &stderr,
				Commands: []*cli.Command{{
					Name:      "sub",
					ArgsUsage: "[FILE]",
					Flags: []cli.Flag{
						&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "hosts"},
						&cli.BoolFlag{Name: "json"},
					},
					Action: func(c *cli.Context) error {
						var err error
						got, err = Positional(c, 0, 2)
						format, json = c.String("format"), c.Bool("json")
						if c.String("f") != format {
							t.Errorf("-f is %q, --format %q", c.String("f"), format)
						}
						return err
					},
				}},
			}
			code := Run(context.Background(), app, append([]string{"x", "sub"}, tt.args...))
			if code != tt.code || !strings.Contains(stderr.String(), tt.errPart) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, stderr.String(), tt.code, tt.errPart)
			}
			if tt.code == 0 && (!slices.Equal(got, tt.want) || format != tt.format || json != tt.json) {
				t.Errorf("args %q format %q json %v, want %q %q %v", got, format, json, tt.want, tt.format, tt.json)
			}
		})
	}
}

func TestPositionalMissing(t *testing.T) {
	var stderr bytes.Buffer
	app := &cli.App{
		Name: "x", Writer: &bytes.Buffer{}, ErrWriter: &stderr,
		Commands: []*cli.Command{{
			Name: "pick", ArgsUsage: "SERVICE",
			Action: func(c *cli.Context) error { _, err := Positional(c, 1, 1); return err },
		}},
	}
	if code := Run(context.Background(), app, []string{"x", "pick"}); code != 2 || stderr.String() != "x: pick: missing SERVICE (see --help)\n" {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}
