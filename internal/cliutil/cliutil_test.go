package cliutil

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/urfave/cli/v2"
)

func TestRunExitCodes(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		action  error
		want    int
		wantErr string
		silent  bool // nothing on stderr
	}{
		{name: "ok", args: []string{"x"}, want: 0},
		{name: "failure", args: []string{"x"}, action: errors.New("boom"), want: 1, wantErr: "x: boom\n"},
		{name: "wrapped_usage", args: []string{"x"}, action: fmt.Errorf("ctx: %w", Usagef("bad -f %q", "yaml")), want: 2, wantErr: "x: ctx: bad -f \"yaml\"\n"},
		{name: "not_found", args: []string{"x"}, action: NotFoundf("no hosts"), want: 3, wantErr: "x: no hosts\n"},
		{name: "status_silent", args: []string{"x"}, action: Status(137, nil), want: 137, silent: true},
		{name: "status_zero", args: []string{"x"}, action: Status(0, nil), want: 0, silent: true},
		{name: "status_with_error", args: []string{"x"}, action: Status(127, errors.New("run: cmd: not found")), want: 127, wantErr: "x: run: cmd: not found\n"},
		{name: "unknown_flag", args: []string{"x", "--bogus"}, want: 2},
		{name: "unknown_flag_subcommand", args: []string{"x", "sub", "--bogus"}, want: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			app := &cli.App{
				Name:      "x",
				Writer:    &bytes.Buffer{},
				ErrWriter: &stderr,
				Action:    func(*cli.Context) error { return tt.action },
				Commands:  []*cli.Command{{Name: "sub", Action: func(*cli.Context) error { return nil }}},
			}
			if got := Run(context.Background(), app, tt.args); got != tt.want {
				t.Fatalf("Run() = %d, want %d (stderr %q)", got, tt.want, stderr.String())
			}
			if tt.wantErr != "" && stderr.String() != tt.wantErr {
				t.Fatalf("stderr = %q, want %q", stderr.String(), tt.wantErr)
			}
			if tt.silent && stderr.Len() != 0 {
				t.Fatalf("stderr = %q, want nothing", stderr.String())
			}
			if tt.want == 2 && bytes.Count(stderr.Bytes(), []byte("\n")) < 1 {
				t.Fatalf("usage error printed nothing")
			}
		})
	}
}

func TestParseMeta(t *testing.T) {
	m, err := ParseMeta([]string{"load=3", "zone=a=b"})
	if err != nil || m["load"] != "3" || m["zone"] != "a=b" || len(m) != 2 {
		t.Fatalf("ParseMeta = %v, %v", m, err)
	}
	if _, err := ParseMeta([]string{"novalue"}); Code(err) != ExitUsage {
		t.Fatalf("ParseMeta(novalue) code = %d, want 2", Code(err))
	}
}
