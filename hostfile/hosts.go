package hostfile

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
)

// parseHosts parses hosts(5) lines: "IP canonical-name [aliases...]",
// with '#' starting a comment. Each line is one Host; several lines may
// have the same address.
func parseHosts(p *parser, data []byte) []Host {
	var hosts []Host
	eachLine(data, func(n int, line string) bool {
		line, _, _ = strings.Cut(line, "#")
		f := strings.Fields(line)
		if len(f) == 0 {
			return true
		}
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
// and a name; other hosts cannot be written in this format.
func writeHosts(w *bytes.Buffer, hosts []Host) error {
	w.WriteString("#" + header + "\n")
	for _, h := range hosts {
		if err := h.check(); err != nil {
			return err
		}
		if !h.Addr.IsValid() || len(h.Names) == 0 {
			continue
		}
		fmt.Fprintf(w, "%s\t%s\n", h.Addr, strings.Join(h.Names, " "))
	}
	return nil
}
