//go:build linux

package lab

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// namesTimeout bounds how long StartDNS and StartNMBD wait for their
// daemon to answer.
const namesTimeout = 15 * time.Second

// netnsEtc is where `ip netns exec NS` finds files to bind-mount over
// /etc: /etc/netns/NS/resolv.conf becomes the command's /etc/resolv.conf.
const netnsEtc = "/etc/netns"

// StartDNS runs dnsmasq on the host as a home router's DNS server: it
// listens on the host's address, port 53, and answers A and PTR queries
// for names (name to address, "client3.lan" say) and NXDOMAIN for every
// other name and private address (it has no upstream server). It returns
// once dnsmasq answers. The daemon is killed when the lab closes. Needs
// dnsmasq.
func (h *Host) StartDNS(names map[string]netip.Addr) error {
	if _, err := exec.LookPath("dnsmasq"); err != nil {
		return fmt.Errorf("lab: dnsmasq not found (install dnsmasq-base): %w", err)
	}
	dir, err := h.tempDir("dns")
	if err != nil {
		return err
	}
	args := []string{"--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
		"--bind-interfaces", "--listen-address=" + h.Addr.String(), "--port=53", "--bogus-priv",
		"--domain=lan", "--local=/lan/", "--user=root", "--pid-file=" + filepath.Join(dir, "dnsmasq.pid"),
		"--log-queries", "--log-facility=" + filepath.Join(dir, "dnsmasq.log")}
	for name, a := range names {
		args = append(args, "--host-record="+name+","+a.String())
	}
	if _, err := h.startReaped(h.Command(context.Background(), "dnsmasq", args...)); err != nil {
		return err
	}
	return h.poll("dnsmasq", func(c net.PacketConn) error { return dnsAnswers(c, h.Addr) })
}

// dnsAnswers sends the DNS server at srv a query on c and waits briefly
// for any answer.
func dnsAnswers(c net.PacketConn, srv netip.Addr) error {
	m := new(dns.Msg)
	m.SetQuestion("ready.lan.", dns.TypeA)
	b, err := m.Pack()
	if err != nil {
		return err
	}
	_, err = askOnce(c, b, netip.AddrPortFrom(srv, 53))
	return err
}

// askOnce sends q to dst on c and returns the first datagram back within
// 200 ms.
func askOnce(c net.PacketConn, q []byte, dst netip.AddrPort) ([]byte, error) {
	if _, err := c.WriteTo(q, net.UDPAddrFromAddrPort(dst)); err != nil {
		return nil, err
	}
	if err := c.SetReadDeadline(time.Now().Add(200 * time.Millisecond)); err != nil {
		return nil, err
	}
	buf := make([]byte, 1500)
	n, _, err := c.ReadFrom(buf)
	return buf[:n], err
}

// poll opens a UDP socket in the host's namespace and calls try with it
// until try succeeds or namesTimeout passes.
func (h *Host) poll(what string, try func(net.PacketConn) error) error {
	var c net.PacketConn
	err := h.Do(func() (err error) {
		c, err = net.ListenPacket("udp4", "0.0.0.0:0")
		return err
	})
	if err != nil {
		return fmt.Errorf("lab: %s: %w", h.Name, err)
	}
	defer c.Close()
	if err := poll(namesTimeout, func() error { return try(c) }); err != nil {
		return fmt.Errorf("lab: %s: %s does not answer after %v: %w", h.Name, what, namesTimeout, err)
	}
	return nil
}

// UseResolver makes server the DNS server of the host's commands (none if
// server is invalid, which is how every host starts): `ip netns exec`, and
// so [Host.Command], bind-mounts /etc/netns/NAME/resolv.conf over the
// machine's /etc/resolv.conf, so no lab command (nmap's reverse DNS, say)
// ever asks the machine's own DNS servers. The file is removed when the
// lab closes, or by [CleanStale].
func (h *Host) UseResolver(server netip.Addr) error {
	dir := h.etcDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	conf := "# lab " + h.lab.Name + ": no DNS server\n"
	if server.IsValid() {
		conf = "# lab " + h.lab.Name + "\nnameserver " + server.String() + "\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "resolv.conf"), []byte(conf), 0o644); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	return nil
}

// etcDir is the host's /etc/netns directory.
func (h *Host) etcDir() string { return filepath.Join(netnsEtc, h.Name) }

// StartNMBD runs Samba's NetBIOS name server, nmbd, on the host with
// netbios name name and workgroup workgroup, configured for eth0 only with
// every state directory in the lab's temporary directory (never the
// machine's smbd or config). It returns once nmbd answers a node status
// query. It is killed when the lab closes. Needs nmbd (Debian: samba).
func (h *Host) StartNMBD(name, workgroup string) error {
	if _, err := exec.LookPath("nmbd"); err != nil {
		return fmt.Errorf("lab: nmbd not found (install samba): %w", err)
	}
	dir, err := h.tempDir("nmbd")
	if err != nil {
		return err
	}
	var conf strings.Builder
	fmt.Fprintf(&conf, "[global]\nnetbios name = %s\nworkgroup = %s\ninterfaces = %s\nbind interfaces only = yes\n", name, workgroup, h.Iface)
	for _, d := range []string{"lock directory", "state directory", "cache directory", "pid directory", "private dir", "ncalrpc dir"} {
		sub := filepath.Join(dir, strings.ReplaceAll(d, " ", "-"))
		if err := os.Mkdir(sub, 0o700); err != nil {
			return fmt.Errorf("lab: nmbd: %w", err)
		}
		fmt.Fprintf(&conf, "%s = %s\n", d, sub)
	}
	fmt.Fprintf(&conf, "log file = %s\n", filepath.Join(dir, "log.nmbd"))
	confPath := filepath.Join(dir, "smb.conf")
	if err := os.WriteFile(confPath, []byte(conf.String()), 0o644); err != nil {
		return fmt.Errorf("lab: nmbd: %w", err)
	}
	if _, err := h.startReaped(h.Command(context.Background(), "nmbd", "-F", "--no-process-group", "-s", confPath)); err != nil {
		return err
	}
	want := []byte(strings.ToUpper(name))
	return h.poll("nmbd", func(c net.PacketConn) error {
		b, err := askOnce(c, nbstatQuery, netip.AddrPortFrom(h.Addr, 137))
		if err == nil && !bytes.Contains(b, want) {
			err = fmt.Errorf("answer without %s", want)
		}
		return err
	})
}

// nbstatQuery is a NetBIOS node status request for "*" (RFC 1002).
var nbstatQuery = []byte("\x12\x34\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x20CK" + strings.Repeat("A", 30) + "\x00\x00\x21\x00\x01")

// tempDir returns a new directory for one daemon of the host in the lab's
// temporary directory.
func (h *Host) tempDir(what string) (string, error) {
	tmp, err := h.lab.tempDir()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp(tmp, what+"-"+h.port+"-")
	if err != nil {
		return "", fmt.Errorf("lab: %s: %w", what, err)
	}
	return dir, nil
}
