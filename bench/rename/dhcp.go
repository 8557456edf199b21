package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// dhcpHook is udhcpc's event script: it applies the lease with ip and logs
// each event with the time the address was in place. It never touches
// /etc/resolv.conf, which the namespaces share with the machine.
const dhcpHook = `#!/bin/sh
case "$1" in
deconfig)
	ip -4 addr flush dev "$interface" scope global
	ip link set "$interface" up
	;;
bound|renew)
	ip addr replace "$ip/$mask" dev "$interface"
	;;
esac
echo "$1 ${ip:-none} $(date +%s%N)" >>"$EVENTS"
`

// dhcp is dnsmasq on one lab host serving a reserved address to udhcpc on
// another.
type dhcp struct {
	dir     string
	client  *lab.Host
	dnsmasq *exec.Cmd
	udhcpc  *exec.Cmd
}

// startDHCP flushes the client's static address and gets it first by
// DHCP from a dnsmasq on server.
func startDHCP(l *lab.Lab, dir string, client, server *lab.Host, first netip.Addr) (*dhcp, error) {
	d := &dhcp{dir: dir, client: client}
	if err := d.reserve(first); err != nil {
		return nil, err
	}
	hook := filepath.Join(dir, "hook.sh")
	if err := os.WriteFile(hook, []byte(dhcpHook), 0o755); err != nil {
		return nil, err
	}
	if err := sh(client, "ip -4 addr flush dev eth0"); err != nil {
		return nil, err
	}
	mask := net.IP(net.CIDRMask(l.Prefix.Bits(), 32)).String()
	d.dnsmasq = server.Command(context.Background(), "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--port=0",
		"--interface=eth0", "--bind-interfaces", "--no-ping",
		"--dhcp-range="+nth(l.Prefix, 100).String()+","+nth(l.Prefix, 150).String()+","+mask+",2m",
		"--dhcp-hostsfile="+filepath.Join(dir, "hosts"), "--dhcp-leasefile="+filepath.Join(dir, "leases"),
		"--dhcp-authoritative", "--pid-file="+filepath.Join(dir, "dnsmasq.pid"), "--user=root", "--log-dhcp",
		"--log-facility="+filepath.Join(dir, "dnsmasq.log"))
	if err := server.Start(d.dnsmasq); err != nil {
		return nil, err
	}
	d.udhcpc = client.Command(context.Background(), "busybox", "udhcpc", "-f", "-i", "eth0", "-s", hook,
		"-p", filepath.Join(dir, "udhcpc.pid"), "-t", "5", "-T", "1", "-A", "2")
	d.udhcpc.Env = append(os.Environ(), "EVENTS="+filepath.Join(dir, "events"))
	if err := client.Start(d.udhcpc); err != nil {
		return nil, err
	}
	_, err := d.bound(first, 0, 10*time.Second)
	return d, err
}

// reserve makes dnsmasq's hosts file give ip to the client.
func (d *dhcp) reserve(ip netip.Addr) error {
	path := filepath.Join(d.dir, "hosts")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, fmt.Appendf(nil, "%s,%s\n", d.client.MAC, ip), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// move reserves ip, makes dnsmasq read it and udhcpc renew (refused, so
// it asks anew), and returns when the hook put ip in place.
func (d *dhcp) move(ip netip.Addr) (time.Time, error) {
	if err := d.reserve(ip); err != nil {
		return time.Time{}, err
	}
	log := filepath.Join(d.dir, "dnsmasq.log")
	reads := func() int {
		b, _ := os.ReadFile(log)
		return strings.Count(string(b), "read "+filepath.Join(d.dir, "hosts"))
	}
	before := reads()
	if err := d.dnsmasq.Process.Signal(syscall.SIGHUP); err != nil {
		return time.Time{}, err
	}
	if err := waitUntil(5*time.Second, "dnsmasq reading its hosts file", func() bool { return reads() > before }); err != nil {
		return time.Time{}, err
	}
	events := len(d.events())
	if err := d.udhcpc.Process.Signal(syscall.SIGUSR1); err != nil {
		return time.Time{}, err
	}
	return d.bound(ip, events, 10*time.Second)
}

// events returns the hook's log lines, complete ones only.
func (d *dhcp) events() [][]string {
	b, _ := os.ReadFile(filepath.Join(d.dir, "events"))
	var out [][]string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 {
			out = append(out, f)
		}
	}
	return out
}

// bound waits for a "bound ip" event after the first skip and returns
// its time.
func (d *dhcp) bound(ip netip.Addr, skip int, within time.Duration) (time.Time, error) {
	var at time.Time
	err := waitUntil(within, "udhcpc bound to "+ip.String(), func() bool {
		evs := d.events()
		for i := skip; i < len(evs); i++ {
			if evs[i][0] == "bound" && evs[i][1] == ip.String() {
				ns, err := strconv.ParseInt(evs[i][2], 10, 64)
				if err == nil {
					at = time.Unix(0, ns)
					return true
				}
			}
		}
		return false
	})
	return at, err
}

// runDHCP moves the first of three agents, a DHCP client, to a new
// reserved address; the measurement starts when the new lease is applied.
func runDHCP(bin string) (result, error) {
	for _, tool := range []string{"dnsmasq", "busybox"} {
		if _, err := exec.LookPath(tool); err != nil {
			return result{}, fmt.Errorf("%s not installed", tool)
		}
	}
	l, err := lab.Start(lab.Config{Hosts: 3})
	if err != nil {
		return result{}, err
	}
	defer l.Close()
	dir, err := os.MkdirTemp("", "bench-rename-")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	first, second := nth(l.Prefix, 120), nth(l.Prefix, 121)
	d, err := startDHCP(l, dir, l.Hosts[0], l.Hosts[1], first)
	if err != nil {
		return result{}, err
	}
	agents, err := startAgents(bin, dir, l.Hosts, []netip.Addr{first, l.Hosts[1].Addr, l.Hosts[2].Addr})
	if err != nil {
		return result{}, err
	}
	mover := agents[0]
	oldName, newName := mover.name+"@"+first.String(), mover.name+"@"+second.String()
	if err := waitDAD(mover.host); err != nil {
		return result{}, err
	}
	p := startProbe(agents[1:], oldName, newName)
	appeared, err := d.move(second)
	if err != nil {
		return result{}, err
	}
	if err := waitRenamed(agents[1:], oldName, newName, 15*time.Second, time.Second); err != nil {
		return result{}, err
	}
	return p.result(appeared)
}
