package version_test

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

const pkgPath = "github.com/ipfinder-go/ipfinder/internal/version.version"

// vcsVersion matches the versions of a build without -ldflags: Go's
// pseudo-version (go1.24+ stamps one from VCS), a revision or devel.
const vcsVersion = `(v\S+|[0-9a-f]{12}(-dirty)?|devel)`

// TestBinaryVersion builds the commands with and without the -ldflags
// override and checks what --version prints.
func TestBinaryVersion(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go tool not found: %v", err)
	}
	platform := regexp.QuoteMeta(runtime.Version() + ", " + runtime.GOOS + "/" + runtime.GOARCH)
	tests := []struct {
		name    string
		cmd     string
		ldflags string
		want    string // regexp of the whole line
	}{
		{"ipfinder_release", "ipfinder", "-X " + pkgPath + "=1.2.3", `ipfinder 1\.2\.3 \(` + platform + `\)`},
		{"ipfinder_vcs", "ipfinder", "", `ipfinder ` + vcsVersion + ` \(` + platform + `\)`},
		{"sdjoin_vcs", "sdjoin", "", `sdjoin ` + vcsVersion + ` \(` + platform + `, gossip protocol 1, memberlist protocol 2\)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bin := filepath.Join(t.TempDir(), tt.cmd)
			build := exec.Command(goTool, "build", "-o", bin, "-ldflags", tt.ldflags, "github.com/ipfinder-go/ipfinder/cmd/"+tt.cmd)
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("go build: %v\n%s", err, out)
			}
			out, err := exec.Command(bin, "--version").CombinedOutput()
			if err != nil {
				t.Fatalf("%s --version: %v\n%s", tt.cmd, err, out)
			}
			line := strings.TrimSuffix(string(out), "\n")
			if !regexp.MustCompile(`^` + tt.want + `$`).MatchString(line) {
				t.Errorf("%s --version = %q, want %s", tt.cmd, line, tt.want)
			}
			if tt.ldflags == "" {
				checkRevision(t, goTool, bin, line)
			}
		})
	}
}

// checkRevision checks the version of a build without -ldflags against
// what `go version -m` says the binary records: its module version,
// else its VCS revision (12 digits, "-dirty" if modified), else "devel".
func checkRevision(t *testing.T, goTool, bin, line string) {
	t.Helper()
	out, err := exec.Command(goTool, "version", "-m", bin).Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	want := "devel"
	if m := regexp.MustCompile(`(?m)^\s+mod\s+\S+\s+(v\S+)`).FindSubmatch(out); m != nil {
		want = string(m[1])
	} else if m := regexp.MustCompile(`(?m)^\s+build\s+vcs\.revision=([0-9a-f]{12})`).FindSubmatch(out); m != nil {
		want = string(m[1])
		if regexp.MustCompile(`(?m)^\s+build\s+vcs\.modified=true`).Match(out) {
			want += "-dirty"
		}
	}
	if !strings.Contains(line, " "+want+" (") {
		t.Errorf("--version = %q, want version %s (from go version -m)", line, want)
	}
}
