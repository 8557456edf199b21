//go:build linux

package lab

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Service is a DNS-SD service an avahi-daemon publishes.
type Service struct {
	// Type is the service type, e.g. "_ssh._tcp".
	Type string
	// Name is the instance name; empty means the host name.
	Name string
	// Port is the service's port.
	Port int
}

// avahiTimeout bounds how long StartAvahi waits for the daemon to be ready.
const avahiTimeout = 15 * time.Second

// avahiScript gives avahi-daemon a private /run/avahi-daemon (for its pid
// file and socket) and the lab's services directory, then runs it in the
// foreground. $1 is the services directory, $2 the config file.
const avahiScript = `mount -t tmpfs tmpfs /run/avahi-daemon &&
mount --bind "$1" /etc/avahi/services &&
exec avahi-daemon -f "$2" --no-drop-root --no-chroot --no-rlimits`

// StartAvahi runs a real avahi-daemon in the host's namespace, answering
// mDNS for hostname.local with the host's address and publishing services,
// and waits until it reports "Server startup complete" and every service
// "successfully established" (probing done). It is configured for
// eth0 only, IPv4 only (StartAvahiIPv6: IPv6 too) and without D-Bus (so avahi-browse cannot talk to
// it). The daemon is killed when the lab closes. Needs avahi-daemon and
// unshare (util-linux).
func (h *Host) StartAvahi(hostname string, services ...Service) error {
	return h.StartAvahiDomain(hostname, "local", services...)
}

// StartAvahiDomain is StartAvahi with another domain than "local": avahi
// then announces hostname.domain. Tests use it to make a responder that
// announces a name such as "evil.1", which no hostfile can hold.
func (h *Host) StartAvahiDomain(hostname, domain string, services ...Service) error {
	return h.startAvahi(hostname, domain, families{v4: true}, services)
}

// StartAvahiIPv6 is StartAvahi with use-ipv6=yes: the daemon also answers
// over IPv6 (ff02::fb). Over IPv4 it publishes AAAA records of the host's
// IPv6 addresses either way (avahi's publish-aaaa-on-ipv4).
func (h *Host) StartAvahiIPv6(hostname string, services ...Service) error {
	return h.startAvahi(hostname, "local", families{v4: true, v6: true}, services)
}

// StartAvahiIPv6Only is StartAvahi with use-ipv4=no and use-ipv6=yes: the
// daemon answers over IPv6 (ff02::fb) only, with AAAA records only (no A
// records: avahi's publish-a-on-ipv6 is off), even on a host that has an
// IPv4 address.
func (h *Host) StartAvahiIPv6Only(hostname string, services ...Service) error {
	return h.startAvahi(hostname, "local", families{v6: true}, services)
}

// families are the IP versions an avahi-daemon uses.
type families struct{ v4, v6 bool }

func (h *Host) startAvahi(hostname, domain string, fam families, services []Service) error {
	for _, tool := range []string{"avahi-daemon", "unshare"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("lab: %s not found (install avahi-daemon and util-linux): %w", tool, err)
		}
	}
	for _, label := range append([]string{hostname}, strings.Split(domain, ".")...) {
		if err := checkLabel(label); err != nil {
			return fmt.Errorf("lab: %s: avahi: %w", h.Name, err)
		}
	}
	conf, svcDir, err := h.writeAvahiFiles(avahiConf(hostname, domain, h.Iface, fam), services)
	if err != nil {
		return fmt.Errorf("lab: %s: avahi: %w", h.Name, err)
	}
	if err := os.MkdirAll("/run/avahi-daemon", 0o755); err != nil {
		return fmt.Errorf("lab: avahi: %w", err)
	}
	// `ip netns exec` already gives a slave mount namespace; keep it a slave
	// so unmounting other labs' namespaces still reaches this copy.
	cmd := h.Command(context.Background(), "unshare", "-m", "--propagation", "slave",
		"sh", "-c", avahiScript, "sh", svcDir, conf)
	log := &readyLog{marker: []byte("Server startup complete"), services: len(services), ready: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("lab: %s: avahi: %w", h.Name, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(p.done)
	}()
	if err := h.lab.track(p); err != nil {
		p.kill()
		p.wait()
		return err
	}
	t := time.NewTimer(avahiTimeout)
	defer t.Stop()
	select {
	case <-log.ready:
		return nil
	case <-p.done:
		return fmt.Errorf("lab: %s: avahi-daemon exited (%v) before it was ready; its log:\n%s", h.Name, waitErr, log)
	case <-t.C:
		p.kill()
		<-p.done
		return fmt.Errorf("lab: %s: avahi-daemon not ready after %v; its log:\n%s", h.Name, avahiTimeout, log)
	}
}

// writeAvahiFiles writes the daemon's config file and services directory
// into the lab's temporary directory.
func (h *Host) writeAvahiFiles(config string, services []Service) (conf, svcDir string, err error) {
	tmp, err := h.lab.tempDir()
	if err != nil {
		return "", "", err
	}
	dir, err := os.MkdirTemp(tmp, "avahi-"+h.port+"-")
	if err != nil {
		return "", "", err
	}
	conf = filepath.Join(dir, "avahi-daemon.conf")
	if err := os.WriteFile(conf, []byte(config), 0o644); err != nil {
		return "", "", err
	}
	svcDir = filepath.Join(dir, "services")
	if err := os.Mkdir(svcDir, 0o755); err != nil {
		return "", "", err
	}
	for i, s := range services {
		name := filepath.Join(svcDir, fmt.Sprintf("%d.service", i))
		if err := os.WriteFile(name, serviceXML(s), 0o644); err != nil {
			return "", "", err
		}
	}
	return conf, svcDir, nil
}

// avahiConf is an avahi-daemon.conf for hostname.domain on iface only,
// using the IP versions of fam.
func avahiConf(hostname, domain, iface string, fam families) string {
	yes := map[bool]string{false: "no", true: "yes"}
	return fmt.Sprintf(`[server]
host-name=%s
domain-name=%s
use-ipv4=%s
use-ipv6=%s
enable-dbus=no
allow-interfaces=%s
ratelimit-interval-usec=1000000
ratelimit-burst=1000

[wide-area]
enable-wide-area=no

[publish]
publish-workstation=yes
publish-addresses=yes

[reflector]
enable-reflector=no
`, hostname, domain, yes[fam.v4], yes[fam.v6], iface)
}

// serviceXML is the avahi .service file publishing s.
func serviceXML(s Service) []byte {
	esc := func(v string) string {
		var b bytes.Buffer
		_ = xml.EscapeText(&b, []byte(v)) // writes to a bytes.Buffer never fail
		return b.String()
	}
	name := `<name replace-wildcards="yes">%h</name>`
	if s.Name != "" {
		name = "<name>" + esc(s.Name) + "</name>"
	}
	return fmt.Appendf(nil, `<?xml version="1.0" standalone="no"?>
<!DOCTYPE service-group SYSTEM "avahi-service.dtd">
<service-group>
  %s
  <service>
    <type>%s</type>
    <port>%d</port>
  </service>
</service-group>
`, name, esc(s.Type), s.Port)
}

// checkLabel accepts a host name label: letters, digits and inner hyphens.
func checkLabel(s string) error {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return fmt.Errorf("bad host name %q: want one DNS label", s)
	}
	for _, r := range s {
		if !(r == '-' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') {
			return fmt.Errorf("bad host name %q: want letters, digits and hyphens", s)
		}
	}
	return nil
}

// readyLog collects a process's output (up to a limit) and closes ready
// once marker appears in it.
type readyLog struct {
	marker []byte
	// services is how many "successfully established" lines must follow:
	// avahi reports startup complete before its services finished probing,
	// and a browse right then would miss them.
	services int
	ready    chan struct{}
	mu       sync.Mutex
	buf      bytes.Buffer
	seen     bool
}

const readyLogMax = 64 << 10

func (l *readyLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := readyLogMax - l.buf.Len(); room > 0 {
		l.buf.Write(p[:min(len(p), room)])
	}
	if !l.seen && bytes.Contains(l.buf.Bytes(), l.marker) &&
		bytes.Count(l.buf.Bytes(), []byte("successfully established")) >= l.services {
		l.seen = true
		close(l.ready)
	}
	return len(p), nil
}

func (l *readyLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.TrimSpace(l.buf.String())
}
