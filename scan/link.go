package scan

import (
	"os"
	"path/filepath"
)

// DefaultWiredARPRate is the ARP rate [LinkARPRate] gives a link that is
// not Wi-Fi: about 5 Mbit/s of broadcast frames, a small share of even a
// 100 Mbit/s Ethernet.
const DefaultWiredARPRate = 10000

// sysClassNet is where Linux describes network interfaces.
const sysClassNet = "/sys/class/net"

// LinkARPRate returns the default ARP rate for the named interface:
// DefaultARPRate on Wi-Fi, whose access points rebroadcast every request
// at their lowest rate, and DefaultWiredARPRate on any other link. An
// interface counts as Wi-Fi when /sys/class/net/NAME has a wireless
// directory or a phy80211 link.
func LinkARPRate(name string) int {
	return arpRateFor(isWireless(sysClassNet, name))
}

func arpRateFor(wireless bool) int {
	if wireless {
		return DefaultARPRate
	}
	return DefaultWiredARPRate
}

// isWireless reports whether root (a /sys/class/net) marks interface name
// as Wi-Fi. A name that is no single path element is not an interface.
func isWireless(root, name string) bool {
	if name == "" || name != filepath.Base(name) || name == "." || name == ".." {
		return false
	}
	for _, mark := range []string{"wireless", "phy80211"} {
		if _, err := os.Stat(filepath.Join(root, name, mark)); err == nil {
			return true
		}
	}
	return false
}
