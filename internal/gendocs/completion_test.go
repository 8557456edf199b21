package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// TestCompletion sources the generated scripts in real bash, zsh and
// fish, with the commands built on PATH and an sdjoin agent on loopback,
// and completes command lines as each shell would. Where the command
// offers nothing, the shell must fall back to file names: bash by
// "complete -o default" (COMPREPLY stays empty), zsh by _files (stubbed
// to print FILES), fish by -F (it lists the one file in the directory).
func TestCompletion(t *testing.T) {
	bin := buildCommands(t)
	sock := startAgent(t, bin, "web")
	tests := []struct {
		name  string
		words []string // the last one is being completed
		want  []string // sorted; nil: file names
	}{
		{"subcommands", []string{"sdjoin", ""}, []string{"list", "members", "pick", "run", "track", "untrack", "watch"}},
		{"subcommand_prefix", []string{"sdjoin", "un"}, []string{"untrack"}},
		{"command_flag", []string{"sdjoin", "pick", "--po"}, []string{"--policy"}},
		{"services_of_agent", []string{"sdjoin", "pick", "--socket", sock, ""}, []string{"web"}},
		{"service_prefix", []string{"sdjoin", "list", "--socket", sock, "w"}, []string{"web"}},
		{"service_given", []string{"sdjoin", "pick", "--socket", sock, "web", ""}, nil},
		{"no_agent", []string{"sdjoin", "pick", "--socket", filepath.Join(t.TempDir(), "none.sock"), ""}, nil},
		{"app_flags", []string{"ipfinder", "--no-a"}, []string{"--no-arp"}},
		{"version_flag", []string{"ipfinder", "--vers"}, []string{"--version"}},
		{"flag_value_left_to_files", []string{"ipfinder", "-o", ""}, nil},
		{"subcommand_flag_value", []string{"ipfinder", "convert", "-f", ""}, nil},
		{"after_dashes", []string{"sdjoin", "run", "--", ""}, nil},
	}
	for _, sh := range shells {
		t.Run(sh.name, func(t *testing.T) {
			path, err := exec.LookPath(sh.name)
			if err != nil {
				t.Fatalf("%s not found (%v): install it (scripts/setup.sh does)", sh.name, err)
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					want := tt.want
					if want == nil && sh.files != "" {
						want = []string{sh.files}
					}
					dir := t.TempDir()
					if err := os.WriteFile(filepath.Join(dir, "somefile"), nil, 0o644); err != nil {
						t.Fatal(err)
					}
					cmd := exec.Command(path, sh.args(tt.words)...)
					cmd.Dir = dir
					cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
					out, err := cmd.CombinedOutput()
					if err != nil {
						t.Fatalf("%s: %v\n%s", sh.name, err, out)
					}
					got := strings.Fields(string(out))
					slices.Sort(got)
					if !slices.Equal(got, want) {
						t.Errorf("completing %q: %q, want %q", tt.words, got, want)
					}
				})
			}
		})
	}
}

// shells run the completion of words (the last being completed) and
// print the candidates.
var shells = []struct {
	name  string
	files string // what a fallback to file names prints; "" for nothing
	args  func(words []string) []string
}{
	{"bash", "", func(words []string) []string {
		src := fmt.Sprintf(`source %s
COMP_WORDS=(%s); COMP_CWORD=%d
_%s_complete
printf '%%s\n' "${COMPREPLY[@]}"`, scriptPath(words[0]+".bash"), shellQuote(words), len(words)-1, words[0])
		return []string{"--norc", "--noprofile", "-c", src}
	}},
	{"zsh", "FILES", func(words []string) []string {
		src := fmt.Sprintf(`compadd() { if [[ $1 = -a ]]; then print -l -- "${(@P)2}"; fi }
_files() { print FILES; }
words=(%s); CURRENT=%d
source %s`, shellQuote(words), len(words), scriptPath("_"+words[0]))
		return []string{"-f", "-c", src}
	}},
	{"fish", "somefile", func(words []string) []string {
		src := fmt.Sprintf("source %s; complete -C %s", scriptPath(words[0]+".fish"), shellQuote([]string{strings.Join(words, " ")}))
		return []string{"--no-config", "-c", src}
	}},
}

// scriptPath returns the absolute path of a generated completion script.
func scriptPath(name string) string {
	p, _ := filepath.Abs(filepath.Join(root, "docs/completion", name))
	return p
}

// shellQuote quotes words for bash, zsh and fish alike.
func shellQuote(words []string) string {
	var quoted []string
	for _, w := range words {
		quoted = append(quoted, "'"+strings.ReplaceAll(w, "'", `'\''`)+"'")
	}
	return strings.Join(quoted, " ")
}

// buildCommands builds ipfinder and sdjoin into a new directory.
func buildCommands(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", dir, "github.com/ipfinder-go/ipfinder/cmd/ipfinder", "github.com/ipfinder-go/ipfinder/cmd/sdjoin")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}

// startAgent runs an sdjoin agent on loopback tracking service, and
// returns its control socket once it answers.
func startAgent(t *testing.T, bin, service string) string {
	t.Helper()
	dir := t.TempDir()
	hosts, sock := filepath.Join(dir, "hosts"), filepath.Join(dir, "a.sock")
	if err := os.WriteFile(hosts, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(bin, "sdjoin"), "--bind", fmt.Sprintf("127.0.0.1:%d", lab.FreePort(t)),
		"--socket", sock, "--hostfile", hosts, "--no-discover", "--track", service)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lab.Eventually(t, 10*time.Second, "the agent's control socket", func() error {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
		}
		return err
	})
	return sock
}
