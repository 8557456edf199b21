package hostfile

import (
	"bytes"
	"net/netip"
	"strconv"
	"strings"
)

// parsePlain parses one host per line, '#' starting a comment. A line is
// an address ("192.0.2.1", "2001:db8::1"), a host name, "host:port"
// (IPv4 address or name), "[IPv6]:port" or an Erlang node "name@host".
func parsePlain(p *parser, data []byte) []Host {
	var hosts []Host
	eachEntry(data, func(n int, f []string) bool {
		if len(f) > 1 {
			return p.fail(n, "want one host per line, have %d fields", len(f))
		}
		h, msg := plainHost(f[0])
		if msg != "" {
			return p.fail(n, "%s", msg)
		}
		if !p.room(n) {
			return false
		}
		hosts = append(hosts, h)
		return true
	})
	return hosts
}

// plainHost parses one plain entry, or says what is wrong with it.
func plainHost(s string) (Host, string) {
	if strings.Contains(s, "@") {
		if msg := checkNode(s); msg != "" {
			return Host{}, msg
		}
		return nodeEntry(s), ""
	}
	if strings.HasPrefix(s, "[") {
		ap, err := netip.ParseAddrPort(s)
		if err != nil || ap.Port() == 0 {
			return Host{}, "bad address and port " + quote(s)
		}
		if z := ap.Addr().Zone(); z != "" && !isNameText(z) {
			return Host{}, "bad zone in address " + quote(s)
		}
		return Host{Addr: ap.Addr(), Port: ap.Port()}, ""
	}
	if a, err := netip.ParseAddr(s); err == nil {
		if z := a.Zone(); z != "" && !isNameText(z) {
			return Host{}, "bad zone in address " + quote(s)
		}
		return Host{Addr: a}, ""
	}
	host, port, ok := strings.Cut(s, ":")
	if !ok || strings.Contains(port, ":") {
		if msg := checkName(s); msg != "" {
			return Host{}, msg
		}
		return Host{Names: []string{s}}, ""
	}
	pn, err := strconv.ParseUint(port, 10, 16)
	if err != nil || pn == 0 {
		return Host{}, "bad port " + quote(port)
	}
	if a, err := netip.ParseAddr(host); err == nil && a.Is4() {
		return Host{Addr: a, Port: uint16(pn)}, ""
	}
	if msg := checkName(host); msg != "" {
		return Host{}, msg
	}
	return Host{Names: []string{host}, Port: uint16(pn)}, ""
}

// nodeEntry returns the Host of a valid Erlang node name: the node, and
// its host part as address or name.
func nodeEntry(node string) Host {
	addr, name := nodeHost(node)
	h := Host{Node: node, Addr: addr}
	if name != "" {
		h.Names = []string{name}
	}
	return h
}

// writePlain writes one line per host: its node if it has one, else its
// address or first name, with ":port" when Port is set; then, for a host
// without a node, one line for each of its [Host.ExtraAddrs].
func writePlain(w *bytes.Buffer, hosts []Host) error {
	return writeLines(w, "#", hosts, func(h Host) (string, error) {
		lines := []string{plainLine(h)}
		if h.Node == "" && lines[0] != "" {
			for _, a := range h.ExtraAddrs() {
				lines = append(lines, plainLine(Host{Addr: a, Port: h.Port}))
			}
		}
		return strings.Join(lines, "\n"), nil
	})
}

// plainLine is h's plain entry, "" when it has no address or name.
func plainLine(h Host) string {
	switch {
	case h.Node != "":
		return h.Node
	case h.Addr.IsValid() && h.Port != 0:
		return netip.AddrPortFrom(h.Addr, h.Port).String()
	case h.Addr.IsValid():
		return h.Addr.String()
	case len(h.Names) > 0 && h.Port != 0:
		return h.Names[0] + ":" + strconv.Itoa(int(h.Port))
	case len(h.Names) > 0:
		return h.Names[0]
	}
	return ""
}
