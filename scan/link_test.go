package scan

import (
	"os"
	"path/filepath"
	"testing"
)

func TestIsWireless(t *testing.T) {
	root := t.TempDir()
	mkdir := func(p string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(root, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mkdir("wlan0/wireless")
	mkdir("phy0")
	mkdir("wlp2s0")
	if err := os.Symlink(filepath.Join(root, "phy0"), filepath.Join(root, "wlp2s0", "phy80211")); err != nil {
		t.Fatal(err)
	}
	mkdir("eth0/statistics")
	mkdir("veth1")
	tests := []struct {
		name string
		want bool
	}{
		{"wlan0", true},
		{"wlp2s0", true},
		{"eth0", false},
		{"veth1", false},
		{"missing", false},
		{"", false},
		{"..", false},
		{"wlan0/wireless", false},
	}
	for _, tt := range tests {
		if got := isWireless(root, tt.name); got != tt.want {
			t.Errorf("isWireless(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestARPRateFor(t *testing.T) {
	if got := arpRateFor(true); got != DefaultARPRate {
		t.Errorf("Wi-Fi rate %d, want DefaultARPRate %d", got, DefaultARPRate)
	}
	if got := arpRateFor(false); got != DefaultWiredARPRate {
		t.Errorf("wired rate %d, want DefaultWiredARPRate %d", got, DefaultWiredARPRate)
	}
	if DefaultWiredARPRate <= DefaultARPRate {
		t.Errorf("wired links get %d/s, no more than Wi-Fi's %d/s", DefaultWiredARPRate, DefaultARPRate)
	}
}
