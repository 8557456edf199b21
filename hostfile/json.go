package hostfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// jsonHost is one element of the JSON format; see the package
// documentation for the schema. Only ip and names are always written;
// the parser also reads the empty values older versions wrote.
type jsonHost struct {
	IP        string            `json:"ip"`
	Port      uint16            `json:"port,omitempty"`
	MAC       string            `json:"mac,omitempty"`
	IPv6      []string          `json:"ipv6,omitempty"`
	Vendor    string            `json:"vendor,omitempty"`
	Names     []string          `json:"names"`
	Sources   map[string]string `json:"sources,omitempty"`
	Workgroup string            `json:"workgroup,omitempty"`
	Node      string            `json:"node,omitempty"`
	Services  []string          `json:"services,omitempty"`
	Conflict  []string          `json:"conflict,omitempty"`
	LastSeen  string            `json:"last_seen,omitempty"`
	Self      bool              `json:"self,omitempty"`
}

// parseJSON parses a JSON array of host objects. A bad element is a bad
// "line" (at the line where the element starts); a syntax error stops
// parsing in every mode.
func parseJSON(p *parser, data []byte) []Host {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		p.stop(jsonErrLine(data, dec, err), "want a JSON array of hosts")
		return nil
	}
	var hosts []Host
	lines := &lineCounter{data: data}
	for dec.More() {
		line := lines.at(elementStart(data, dec.InputOffset()))
		var jh jsonHost
		if err := dec.Decode(&jh); err != nil {
			if _, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
				if !p.fail(line, "bad host: %s", clip(err.Error(), 2*maxQuoted)) {
					return nil
				}
				continue
			}
			p.stop(jsonErrLine(data, dec, err), "bad JSON: %s", clip(err.Error(), 2*maxQuoted))
			return nil
		}
		h, msg := jh.host()
		if msg != "" {
			if !p.fail(line, "%s", msg) {
				return nil
			}
			continue
		}
		if !p.room(line) {
			return nil
		}
		hosts = append(hosts, h)
	}
	if _, err := dec.Token(); err != nil { // the closing ']'
		p.stop(jsonErrLine(data, dec, err), "bad JSON: %s", clip(err.Error(), 2*maxQuoted))
		return nil
	}
	if _, err := dec.Token(); err != io.EOF {
		p.stop(lineAt(data, dec.InputOffset()), "unexpected data after the JSON array")
		return nil
	}
	return hosts
}

// elementStart returns the offset of the array element that follows
// off, past white space and a comma.
func elementStart(data []byte, off int64) int64 {
	for off < int64(len(data)) && bytes.IndexByte([]byte(" \t\r\n,"), data[off]) >= 0 {
		off++
	}
	return off
}

// jsonErrLine returns the line of a JSON decoding error.
func jsonErrLine(data []byte, dec *json.Decoder, err error) int {
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		return lineAt(data, se.Offset)
	}
	return lineAt(data, dec.InputOffset())
}

// host converts a JSON element to a Host, or says what is wrong with it.
func (jh *jsonHost) host() (Host, string) {
	var h Host
	if jh.IP != "" {
		a, err := netip.ParseAddr(jh.IP)
		if err != nil {
			return h, "bad address " + quote(jh.IP)
		}
		if z := a.Zone(); z != "" && !isNameText(z) {
			return h, "bad zone in address " + quote(jh.IP)
		}
		h.Addr = a
	}
	if jh.IP == "" && len(jh.Names) == 0 && jh.Node == "" {
		return h, "host has no ip, names or node"
	}
	h.Port = jh.Port
	if jh.MAC != "" {
		mac, err := net.ParseMAC(jh.MAC)
		if err != nil {
			return h, "bad MAC address " + quote(jh.MAC)
		}
		h.MAC = mac
	}
	for _, s := range jh.IPv6 {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return h, "bad IPv6 address " + quote(s)
		}
		if msg := checkIPv6(a); msg != "" {
			return h, msg
		}
		h.IPv6 = append(h.IPv6, a)
	}
	h.Vendor = jh.Vendor
	if msg := firstBad(jh.Names, checkName); msg != "" {
		return h, msg
	}
	h.Names = nilIfEmpty(jh.Names)
	for n, src := range jh.Sources {
		if msg := checkName(n); msg != "" {
			return h, "source of " + msg
		}
		if msg := checkName(src); msg != "" {
			return h, "bad source " + quote(src) + " of name " + quote(n)
		}
	}
	if len(jh.Sources) > 0 {
		h.Sources = jh.Sources
	}
	if !utf8.ValidString(jh.Workgroup) || strings.ContainsFunc(jh.Workgroup, unicode.IsControl) {
		return h, "bad workgroup " + quote(jh.Workgroup)
	}
	h.Workgroup = jh.Workgroup
	if jh.Node != "" {
		if msg := checkNode(jh.Node); msg != "" {
			return h, msg
		}
		h.Node = jh.Node
	}
	if msg := firstBad(jh.Services, checkService); msg != "" {
		return h, msg
	}
	h.Services = nilIfEmpty(jh.Services)
	for _, c := range jh.Conflict {
		mac, err := net.ParseMAC(c)
		if err != nil {
			return h, "bad conflicting MAC address " + quote(c)
		}
		h.Conflict = append(h.Conflict, mac)
	}
	if jh.LastSeen != "" {
		t, err := time.Parse(time.RFC3339Nano, jh.LastSeen)
		if err != nil {
			return h, "bad last_seen " + quote(jh.LastSeen) + ": want RFC 3339 time"
		}
		h.LastSeen = t
	}
	h.Self = jh.Self
	return h, ""
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// firstBad returns what check says of the first string of list it finds
// bad, or "" when all are good.
func firstBad(list []string, check func(string) string) string {
	for _, s := range list {
		if msg := check(s); msg != "" {
			return msg
		}
	}
	return ""
}

// writeJSON writes hosts as an indented JSON array: ip, and names as []
// when empty (never null); every other key only when it carries something.
func writeJSON(w *bytes.Buffer, hosts []Host) error {
	out := make([]jsonHost, 0, len(hosts))
	for _, h := range hosts {
		if err := h.check(); err != nil {
			return err
		}
		if !h.Addr.IsValid() && len(h.Names) == 0 && h.Node == "" {
			continue // nothing to find the host by
		}
		jh := jsonHost{
			Port:      h.Port,
			Vendor:    h.Vendor,
			Names:     append([]string{}, h.Names...),
			Sources:   h.Sources,
			Workgroup: h.Workgroup,
			Node:      h.Node,
			Services:  h.Services,
			Self:      h.Self,
		}
		if len(h.MAC) > 0 {
			jh.MAC = h.MAC.String()
		}
		if h.Addr.IsValid() {
			jh.IP = h.Addr.String()
		}
		for _, a := range h.IPv6 {
			jh.IPv6 = append(jh.IPv6, a.String())
		}
		for _, c := range h.Conflict {
			jh.Conflict = append(jh.Conflict, c.String())
		}
		if !h.LastSeen.IsZero() {
			t := h.LastSeen.UTC()
			if t.Year() < 0 || t.Year() > 9999 {
				return fmt.Errorf("hostfile: host %s: last seen %v is not an RFC 3339 time", h.label(), t)
			}
			jh.LastSeen = t.Format(time.RFC3339Nano)
		}
		out = append(out, jh)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	w.Write(b)
	w.WriteByte('\n')
	return nil
}
