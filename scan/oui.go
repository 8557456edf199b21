package scan

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Vendors maps MAC address prefixes from the IEEE registries (MA-L 24
// bits, MA-M 28, MA-S and IAB 36) to organization names. The zero value
// knows no vendor. It is safe for concurrent lookups.
type Vendors struct {
	entries []ouiEntry // sorted by key; the first of equal keys wins
}

// ouiEntry is one registry assignment; key is the prefix length in bits
// above the prefix itself, so that one sorted slice holds every length.
type ouiEntry struct {
	key  uint64
	name string
}

func ouiKey(bits int, prefix uint64) uint64 { return uint64(bits)<<48 | prefix }

// Where the registries are on Debian: arp-scan's merged file first, else
// the ieee-data package's files.
var (
	arpScanOUIFile = "/usr/share/arp-scan/ieee-oui.txt"
	ieeeDataFiles  = []string{
		"/usr/share/ieee-data/oui.txt",
		"/usr/share/ieee-data/mam.txt",
		"/usr/share/ieee-data/oui36.txt",
		"/usr/share/ieee-data/iab.txt",
	}
)

// DefaultVendors loads, once, the registry that arp-scan installs at
// /usr/share/arp-scan/ieee-oui.txt, or if that is missing, the ieee-data
// package's oui.txt, mam.txt, oui36.txt and iab.txt in /usr/share/ieee-data.
// It fails when neither package is installed.
func DefaultVendors() (*Vendors, error) { return defaultVendors() }

var defaultVendors = sync.OnceValues(func() (*Vendors, error) {
	if _, err := os.Stat(arpScanOUIFile); err == nil {
		return loadVendors(arpScanOUIFile)
	}
	var found []string
	for _, f := range ieeeDataFiles {
		if _, err := os.Stat(f); err == nil {
			found = append(found, f)
		}
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("scan: no IEEE OUI registry in %s or %s: install arp-scan or ieee-data",
			arpScanOUIFile, ieeeDataFiles[0])
	}
	return loadVendors(found...)
})

// loadVendors reads registry files in arp-scan's format ("001122<TAB>Name",
// with 6 to 12 hex digits) or the IEEE's oui.txt/mam.txt/oui36.txt format.
// Where files disagree, the earlier one wins. A file without a single
// entry is an error: it is not a registry.
func loadVendors(paths ...string) (*Vendors, error) {
	var all []ouiEntry
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("scan: OUI registry %s does not exist: install arp-scan or ieee-data", p)
			}
			return nil, fmt.Errorf("scan: OUI registry: %w", err)
		}
		entries, err := parseOUI(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("scan: OUI registry %s: %w", p, err)
		}
		if len(entries) == 0 {
			return nil, fmt.Errorf("scan: %s holds no OUI entries: reinstall arp-scan or ieee-data", p)
		}
		all = append(all, entries...)
	}
	return newVendors(all), nil
}

func newVendors(entries []ouiEntry) *Vendors {
	slices.SortStableFunc(entries, func(a, b ouiEntry) int { return cmp.Compare(a.key, b.key) })
	entries = slices.CompactFunc(entries, func(a, b ouiEntry) bool { return a.key == b.key })
	return &Vendors{entries: slices.Clip(entries)}
}

// Lookup returns the organization owning the longest registered prefix of
// mac, or "" for unknown, multicast and locally administered addresses.
func (v *Vendors) Lookup(mac net.HardwareAddr) string {
	if v == nil || len(mac) != 6 || mac[0]&0x03 != 0 {
		return ""
	}
	var m uint64
	for _, b := range mac {
		m = m<<8 | uint64(b)
	}
	for bits := 48; bits >= 24; bits -= 4 {
		key := ouiKey(bits, m>>(48-bits))
		i, ok := slices.BinarySearchFunc(v.entries, key, func(e ouiEntry, k uint64) int { return cmp.Compare(e.key, k) })
		if ok {
			return v.entries[i].name
		}
	}
	return ""
}

// parseOUI reads arp-scan and IEEE registry lines.
func parseOUI(r io.Reader) ([]ouiEntry, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64*1024)
	var (
		out []ouiEntry
		oui uint64 = 1 << 63 // from the last "(hex)" line; invalid until one
	)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		if left, name, ok := strings.Cut(line, "(hex)"); ok {
			if v, ok := parseHex(strings.ReplaceAll(strings.TrimSpace(left), "-", ""), 6); ok && strings.TrimSpace(name) != "" {
				oui = v
			}
			continue
		}
		if left, name, ok := strings.Cut(line, "(base 16)"); ok {
			if e, ok := ieeeEntry(strings.TrimSpace(left), strings.TrimSpace(name), oui); ok {
				out = append(out, e)
			}
			continue
		}
		hex, name, ok := strings.Cut(line, "\t")
		name = strings.TrimSpace(name)
		if !ok || name == "" || len(hex) < 6 || len(hex) > 12 {
			continue
		}
		if v, ok := parseHex(hex, len(hex)); ok {
			out = append(out, ouiEntry{key: ouiKey(4*len(hex), v), name: name})
		}
	}
	return out, sc.Err()
}

// ieeeEntry reads the "(base 16)" line of an IEEE registry: "001122" in
// oui.txt, or a range of the last 24 bits below the OUI of the preceding
// "(hex)" line, such as "B00000-BFFFFF" (28 bits) in mam.txt.
func ieeeEntry(left, name string, oui uint64) (ouiEntry, bool) {
	if name == "" {
		return ouiEntry{}, false
	}
	lo, hi, isRange := strings.Cut(left, "-")
	if !isRange {
		v, ok := parseHex(left, 6)
		return ouiEntry{key: ouiKey(24, v), name: name}, ok
	}
	if oui>>24 != 0 || len(lo) != 6 || len(hi) != 6 {
		return ouiEntry{}, false
	}
	k := 0
	for k < 6 && lo[k] == hi[k] {
		k++
	}
	if strings.Trim(lo[k:], "0") != "" || strings.Trim(strings.ToUpper(hi[k:]), "F") != "" || k == 0 {
		return ouiEntry{}, false
	}
	v, ok := parseHex(lo[:k], k)
	return ouiEntry{key: ouiKey(24+4*k, oui<<(4*k)|v), name: name}, ok
}

// parseHex parses exactly n hex digits.
func parseHex(s string, n int) (uint64, bool) {
	if len(s) != n || n == 0 || n > 12 {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 16, 64)
	return v, err == nil
}
