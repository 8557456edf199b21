package rename_test

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/lab"
	"github.com/ipfinder-go/ipfinder/rename"
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

// dhcpEvent is one line of the hook's log.
type dhcpEvent struct {
	kind string
	ip   string
	at   time.Time
}

func readEvents(t *testing.T, path string) []dhcpEvent {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var evs []dhcpEvent
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 {
			continue // a line being written
		}
		ns, err := strconv.ParseInt(fields[2], 10, 64)
		if err != nil {
			continue
		}
		evs = append(evs, dhcpEvent{kind: fields[0], ip: fields[1], at: time.Unix(0, ns)})
	}
	return evs
}

// waitEvent polls the hook's log until an event after the first skip ones
// matches kind and ip.
func waitEvent(t *testing.T, path string, skip int, kind, ip string, within time.Duration) (dhcpEvent, int) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		evs := readEvents(t, path)
		for i := skip; i < len(evs); i++ {
			if evs[i].kind == kind && evs[i].ip == ip {
				return evs[i], i + 1
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s %s event within %v; events: %+v", kind, ip, within, evs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDHCP moves the client's address with a real DHCP server (dnsmasq)
// and client (busybox udhcpc), with the default debounce and grace.
func TestDHCP(t *testing.T) {
	skipWithout(t, "ip", "dnsmasq", "busybox")
	l := lab.New(t, lab.Config{Hosts: 2})
	client, server := l.Hosts[0], l.Hosts[1]
	dir := t.TempDir()
	first, second := offset(l.Prefix, 120), offset(l.Prefix, 121)
	hosts := filepath.Join(dir, "hosts")
	reserve := func(ip netip.Addr) {
		t.Helper()
		if err := os.WriteFile(hosts, fmt.Appendf(nil, "%s,%s\n", client.MAC, ip), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	reserve(first)
	hook := filepath.Join(dir, "hook.sh")
	if err := os.WriteFile(hook, []byte(dhcpHook), 0o755); err != nil {
		t.Fatal(err)
	}
	events := filepath.Join(dir, "events")

	ctx := context.Background()
	sh(t, client, "ip -4 addr flush dev eth0")
	dnsmasq := server.Command(ctx, "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--port=0",
		"--interface=eth0", "--bind-interfaces", "--no-ping",
		"--dhcp-range="+offset(l.Prefix, 100).String()+","+offset(l.Prefix, 150).String()+","+netipMask(l.Prefix.Bits())+",2m",
		"--dhcp-hostsfile="+hosts, "--dhcp-leasefile="+filepath.Join(dir, "leases"), "--dhcp-authoritative",
		"--pid-file="+filepath.Join(dir, "dnsmasq.pid"), "--user=root", "--log-dhcp",
		"--log-facility="+filepath.Join(dir, "dnsmasq.log"))
	if err := server.Start(dnsmasq); err != nil {
		t.Fatal(err)
	}
	udhcpc := client.Command(ctx, "busybox", "udhcpc", "-f", "-i", "eth0", "-s", hook,
		"-p", filepath.Join(dir, "udhcpc.pid"), "-t", "5", "-T", "1", "-A", "2")
	udhcpc.Env = append(os.Environ(), "EVENTS="+events)
	if err := client.Start(udhcpc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "dnsmasq.log"))
			t.Logf("dnsmasq log:\n%s\nhook events: %+v", log, readEvents(t, events))
		}
	})
	_, seen := waitEvent(t, events, 0, "bound", first.String(), 10*time.Second)

	w := watchIn(t, client, nil) // the defaults: 2 s debounce, 5 s grace
	if w.Current() != first {
		t.Fatalf("Current = %v, want the lease %v", w.Current(), first)
	}

	// A new reservation: the renewal is refused, udhcpc flushes the
	// address and gets the new one about 3 s later.
	reserve(second)
	if err := dnsmasq.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	// dnsmasq reads the hosts file after the signal; give it the time
	// the log says it took.
	waitLog(t, filepath.Join(dir, "dnsmasq.log"), "read "+hosts, 2)
	start := time.Now()
	if err := udhcpc.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	bound, seen := waitEvent(t, events, seen, "bound", second.String(), 10*time.Second)
	took := expectChange(t, w, rename.Change{Old: first, New: second}, start, 12*time.Second)
	t.Logf("moved %v -> %v: lease bound %v after USR1, change %v after the new address (%v after USR1)",
		first, second, bound.at.Sub(start).Round(time.Millisecond),
		(took - bound.at.Sub(start)).Round(time.Millisecond), took.Round(time.Millisecond))

	// A plain renewal keeps the address: no change.
	if err := udhcpc.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, events, seen, "renew", second.String(), 5*time.Second)
	expectNoChange(t, w, rename.DefaultDebounce+time.Second)
	if w.Current() != second {
		t.Fatalf("Current = %v, want %v", w.Current(), second)
	}
}

// waitLog polls a log file until it holds line at least n times.
func waitLog(t *testing.T, path, line string, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if strings.Count(string(b), line) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %q not %d times:\n%s", path, line, n, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func netipMask(bits int) string {
	m := uint32(0xffffffff) << (32 - bits)
	return netip.AddrFrom4([4]byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)}).String()
}
