package hostfile

import (
	"bytes"
	"net/netip"
	"strings"
)

// parseHosts parses hosts(5) lines: "IP canonical-name [aliases...]",
// with '#' starting a comment. Each line is one Host; several lines may
// have the same address.
func parseHosts(p *parser, data []byte) []Host {
	var hosts []Host
	eachEntry(data, func(n int, f []string) bool {
		addr, err := netip.ParseAddr(f[0])
		if err != nil {
			return p.fail(n, "bad address %s", quote(f[0]))
		}
		if z := addr.Zone(); z != "" && !isNameText(z) {
			return p.fail(n, "bad zone in address %s", quote(f[0]))
		}
		if len(f) < 2 {
			return p.fail(n, "address %s has no host name", clip(f[0], maxQuoted))
		}
		for _, name := range f[1:] {
			if msg := checkName(name); msg != "" {
				return p.fail(n, "%s", msg)
			}
		}
		if !p.room(n) {
			return false
		}
		hosts = append(hosts, Host{Addr: addr, Names: f[1:]})
		return true
	})
	return hosts
}

// writeHosts writes one hosts(5) line per host that has both an address
// and a name, and one more with the same names for each of its
// [Host.ExtraAddrs]; other hosts cannot be written in this format.
func writeHosts(w *bytes.Buffer, hosts []Host) error {
	return writeLines(w, "#", hosts, func(h Host) (string, error) {
		if !h.Addr.IsValid() || len(h.Names) == 0 {
			return "", nil
		}
		names := "\t" + strings.Join(h.Names, " ")
		lines := []string{h.Addr.String() + names}
		for _, a := range h.ExtraAddrs() {
			lines = append(lines, a.String()+names)
		}
		return strings.Join(lines, "\n"), nil
	})
}
