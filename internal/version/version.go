// Package version names the build of ipfinder and sdjoin for --version:
// the release version set at link time, else the module version or VCS
// revision Go recorded in the binary.
//
// Release builds set it with
//
//	go build -ldflags "-X github.com/ipfinder-go/ipfinder/internal/version.version=1.2.0" ./cmd/...
package version

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// version is set with -ldflags -X for release builds; empty otherwise.
var version string

// String returns the version of this build: the -ldflags value, else the
// module version, else the VCS revision (12 hex digits, "-dirty" when the
// tree had changes), else "devel".
func String() string {
	bi, ok := debug.ReadBuildInfo()
	return resolve(version, bi, ok)
}

// Line returns VERSION (GOVERSION, GOOS/GOARCH[, extra...]), what
// --version prints after the command's name.
func Line(extra ...string) string {
	parts := append([]string{runtime.Version(), runtime.GOOS + "/" + runtime.GOARCH}, extra...)
	return String() + " (" + strings.Join(parts, ", ") + ")"
}

func resolve(ldflag string, bi *debug.BuildInfo, ok bool) string {
	if ldflag != "" {
		return ldflag
	}
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev string
	var dirty bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "devel"
	}
	rev = rev[:min(len(rev), 12)]
	if dirty {
		rev += "-dirty"
	}
	return rev
}
