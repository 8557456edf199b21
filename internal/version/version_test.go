package version

import (
	"runtime/debug"
	"testing"
)

func TestResolve(t *testing.T) {
	vcs := func(rev, modified string) *debug.BuildInfo {
		bi := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}
		bi.Settings = []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}}
		if modified != "" {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: "vcs.modified", Value: modified})
		}
		return bi
	}
	tests := []struct {
		name   string
		ldflag string
		bi     *debug.BuildInfo
		ok     bool
		want   string
	}{
		{"ldflags_win", "1.2.0", &debug.BuildInfo{Main: debug.Module{Version: "v0.9.0"}}, true, "1.2.0"},
		{"module_version", "", &debug.BuildInfo{Main: debug.Module{Version: "v0.9.0"}}, true, "v0.9.0"},
		{"vcs_clean", "", vcs("0123456789abcdef0123456789abcdef01234567", "false"), true, "0123456789ab"},
		{"vcs_dirty", "", vcs("0123456789abcdef0123456789abcdef01234567", "true"), true, "0123456789ab-dirty"},
		{"vcs_short_revision", "", vcs("abc", ""), true, "abc"},
		{"devel_without_vcs", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, true, "devel"},
		{"no_build_info", "", nil, false, "devel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := resolve(tt.ldflag, tt.bi, tt.ok); got != tt.want {
				t.Errorf("resolve = %q, want %q", got, tt.want)
			}
		})
	}
}
