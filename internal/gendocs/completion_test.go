package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// TestBashCompletion sources the generated bash scripts in a real bash,
// with the commands built on PATH and an sdjoin agent on loopback, and
// completes command lines as bash would (COMP_WORDS, COMP_CWORD).
func TestBashCompletion(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatalf("bash not found: %v", err)
	}
	bin := buildCommands(t)
	sock := startAgent(t, bin, "web")
	tests := []struct {
		name  string
		words []string // the last one is being completed
		want  []string // exactly, in order
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

		{"flag_value_left_to_files", []string{"ipfinder", "-f", ""}, nil},
		{"subcommand_flag_value", []string{"ipfinder", "convert", "-f", ""}, nil},
		{"after_dashes", []string{"sdjoin", "run", "--", ""}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := completeInBash(t, bash, bin, tt.words)
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("completing %q: %q, want %q", tt.words, got, tt.want)
			}
		})
	}
}

// completeInBash runs the completion function of words[0] on words and
// returns COMPREPLY, sorted by bash.
func completeInBash(t *testing.T, bash, bin string, words []string) []string {
	t.Helper()
	var quoted []string
	for _, w := range words {
		quoted = append(quoted, "'"+strings.ReplaceAll(w, "'", `'\''`)+"'")
	}
	script := fmt.Sprintf(`source %s
COMP_WORDS=(%s); COMP_CWORD=%d
_%s_complete
printf '%%s\n' "${COMPREPLY[@]}" | sort`,
		filepath.Join(root, "docs/completion", words[0]+".bash"), strings.Join(quoted, " "), len(words)-1, words[0])
	cmd := exec.Command(bash, "--norc", "--noprofile", "-c", script)
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			got = append(got, l)
		}
	}
	return got
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
