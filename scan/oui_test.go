package scan

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipfinder-go/ipfinder/internal/lab"
)

func TestLoadVendors(t *testing.T) {
	v, err := loadVendors("testdata/oui-arpscan.txt", "testdata/oui-ieee.txt")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		mac  string
		want string
	}{
		{"ma_l", "00:0c:29:12:34:56", "VMware, Inc."},
		{"earlier_file_wins_and_first_line_wins", "00:0c:29:00:00:00", "VMware, Inc."},
		{"ma_s_beats_ma_l", "00:50:c2:7d:51:23", "DEUTA-WERKE GmbH"},
		{"ma_l_around_ma_s", "00:50:c2:7d:61:23", "IEEE Registration Authority"},
		{"seven_digits", "70:b3:d5:f1:00:00", "Seven Digits Ltd"},
		{"ieee_ma_l", "00:22:72:aa:bb:cc", "American Micro-Fuel Device Corp."},
		{"ieee_ma_m", "20:85:93:b1:22:33", "IOG Products LLC"},
		{"ieee_ma_m_outside", "20:85:93:c1:22:33", ""},
		{"ieee_ma_s", "70:b3:d5:3a:5f:ff", "Small Block Co"},
		{"unknown", "00:00:01:00:00:00", ""},
		{"locally_administered", "02:0c:29:12:34:56", ""},
		{"multicast", "01:00:5e:00:00:01", ""},
		{"not_ethernet", "00:0c:29:12:34:56:78:9a", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := net.ParseMAC(tt.mac)
			if err != nil {
				t.Fatal(err)
			}
			if got := v.Lookup(m); got != tt.want {
				t.Errorf("Lookup(%s) = %q, want %q", tt.mac, got, tt.want)
			}
		})
	}
	if n := len(v.entries); n != 8 {
		t.Errorf("%d entries, want 8", n)
	}
}

func TestLoadVendorsErrors(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty.txt")
	if err := os.WriteFile(empty, []byte("# nothing\nhello world\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, path := range map[string]string{"missing": filepath.Join(t.TempDir(), "none.txt"), "no_entries": empty} {
		t.Run(name, func(t *testing.T) {
			if _, err := loadVendors(path); err == nil || !strings.Contains(err.Error(), path) {
				t.Errorf("err = %v, want one naming %s", err, path)
			}
		})
	}
	var zero *Vendors
	if zero.Lookup(net.HardwareAddr{0, 0x0c, 0x29, 0, 0, 0}) != "" || zero.Lookup(net.HardwareAddr{0, 0x50, 0xc2, 0x7d, 0x51, 0x23}) != "" {
		t.Error("a nil *Vendors knows vendors")
	}
}

func TestDefaultVendors(t *testing.T) {
	if _, err := os.Stat(arpScanOUIFile); err != nil {
		lab.SkipOrFail(t, fmt.Sprintf("arp-scan's OUI registry is not installed: %v", err))
	}
	v, err := DefaultVendors()
	if err != nil {
		t.Fatal(err)
	}
	if len(v.entries) < 30000 {
		t.Errorf("the default registry has %d entries, want the whole IEEE registry", len(v.entries))
	}
	if got := v.Lookup(net.HardwareAddr{0, 0x0c, 0x29, 1, 2, 3}); !strings.Contains(got, "VMware") {
		t.Errorf("Lookup(00:0c:29:...) = %q, want VMware", got)
	}
}

func TestIEEEDataFiles(t *testing.T) {
	var files []string
	for _, f := range ieeeDataFiles {
		if _, err := os.Stat(f); err == nil {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		lab.SkipOrFail(t, "ieee-data is not installed")
	}
	v, err := loadVendors(files...)
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Lookup(net.HardwareAddr{0, 0x0c, 0x29, 1, 2, 3}); !strings.Contains(got, "VMware") {
		t.Errorf("Lookup(00:0c:29:...) = %q, want VMware", got)
	}
}

func FuzzParseOUI(f *testing.F) {
	for _, p := range []string{"testdata/oui-arpscan.txt", "testdata/oui-ieee.txt"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add("70-B3-D5   (hex)\t\tX\n000000-FFFFFF     (base 16)\t\tX\n")
	f.Add("00000000000000\tToo Long\n")
	f.Fuzz(func(t *testing.T, s string) {
		entries, err := parseOUI(strings.NewReader(s))
		if err != nil {
			return // only a line too long for the scanner
		}
		v := newVendors(entries)
		for _, e := range v.entries {
			if bits := int(e.key >> 48); bits < 24 || bits > 48 || bits%4 != 0 || e.name == "" {
				t.Errorf("entry %x %q from %q", e.key, e.name, s)
			}
		}
		v.Lookup(net.HardwareAddr{0, 0x0c, 0x29, 1, 2, 3})
	})
}
