package ipfindercmd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// ipfinderBin is the ipfinder binary the lab tests run inside lab hosts.
var ipfinderBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ipfinder-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ipfinderBin = filepath.Join(dir, "ipfinder")
	out, err := exec.Command("go", "build", "-o", ipfinderBin, "github.com/ipfinder-go/ipfinder/cmd/ipfinder").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build ipfinder: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// run runs ipfinder with args inside host h and returns stdout, stderr and
// the exit code.
func run(t *testing.T, h *lab.Host, dir string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := h.Command(ctx, ipfinderBin, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run ipfinder: %v", err)
	}
	return stdout.String(), stderr.String(), code
}

type jsonHost struct {
	IP       string   `json:"ip"`
	MAC      string   `json:"mac"`
	Names    []string `json:"names"`
	Node     string   `json:"node"`
	Services []string `json:"services"`
	Vendor   string   `json:"vendor"`
	Conflict []string `json:"conflict"`
	Self     bool     `json:"self"`
}

func TestLabSweepFindsEveryHostWithNamesAndServices(t *testing.T) {
	l := lab.New(t, lab.Config{Hosts: 8})
	if err := l.Hosts[2].StartAvahi("labhost3", lab.Service{Type: "_ssh._tcp", Port: 22}); err != nil {
		t.Fatal(err)
	}
	if err := l.Hosts[5].StartAvahi("labhost6", lab.Service{Type: "_http._tcp", Port: 80}, lab.Service{Type: "_ssh._tcp", Port: 22}); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := run(t, l.Hosts[0], "", "-f", "json")
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	var hosts []jsonHost
	if err := json.Unmarshal([]byte(stdout), &hosts); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, stdout)
	}
	if len(hosts) != len(l.Hosts) {
		t.Fatalf("found %d hosts, want %d:\n%s", len(hosts), len(l.Hosts), stdout)
	}
	for i, h := range hosts {
		lh := l.Hosts[i]
		if h.IP != lh.Addr.String() || h.MAC != lh.MAC.String() {
			t.Errorf("host %d = %s %s, want %s %s", i, h.IP, h.MAC, lh.Addr, lh.MAC)
		}
		if h.Self != (i == 0) {
			t.Errorf("host %s self = %v", h.IP, h.Self)
		}
	}
	want := map[int]struct {
		name     string
		services []string
	}{ // avahi publishes _workstation._tcp too (publish-workstation=yes)
		2: {"labhost3.local", []string{"_ssh._tcp", "_workstation._tcp"}},
		5: {"labhost6.local", []string{"_http._tcp", "_ssh._tcp", "_workstation._tcp"}},
	}
	for i, w := range want {
		h := hosts[i]
		if !slices.Contains(h.Names, w.name) || !slices.Equal(h.Services, w.services) {
			t.Errorf("host %s: names %v services %v, want %s %v", h.IP, h.Names, h.Services, w.name, w.services)
		}
	}

	// With --no-arp only the hosts that answer mDNS are found (and this one).
	stdout, stderr, code = run(t, l.Hosts[0], "", "-f", "json", "--no-arp")
	if code != 0 {
		t.Fatalf("--no-arp: exit %d, stderr:\n%s", code, stderr)
	}
	hosts = nil
	if err := json.Unmarshal([]byte(stdout), &hosts); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, stdout)
	}
	var ips []string
	for _, h := range hosts {
		ips = append(ips, h.IP)
	}
	wantIPs := []string{l.Hosts[0].Addr.String(), l.Hosts[2].Addr.String(), l.Hosts[5].Addr.String()}
	if !slices.Equal(ips, wantIPs) || hosts[1].MAC != "" || !slices.Contains(hosts[1].Names, "labhost3.local") {
		t.Errorf("--no-arp found %v (%s), want %v with names and no MACs", ips, stdout, wantIPs)
	}

	// The default hosts(5) output names every host, generated names included.
	stdout, stderr, code = run(t, l.Hosts[0], "", "--no-self")
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	for i, lh := range l.Hosts[1:] {
		name := "host-" + strings.ReplaceAll(lh.Addr.String(), ".", "-")
		if w, ok := want[i+1]; ok {
			name = w.name
		}
		if !strings.Contains(stdout, lh.Addr.String()+"\t"+name) {
			t.Errorf("hosts output lacks %s %s:\n%s", lh.Addr, name, stdout)
		}
	}
	if strings.Contains(stdout, l.Hosts[0].Addr.String()+"\t") {
		t.Errorf("--no-self output lists this host:\n%s", stdout)
	}
}

func TestLabOutputFileIsSafeForCron(t *testing.T) {
	l := lab.New(t, lab.Config{Hosts: 4})
	dir := t.TempDir()
	out := filepath.Join(dir, "hosts")
	h0 := l.Hosts[0]

	if _, stderr, code := run(t, h0, dir, "-o", out, "--keep", "1h"); code != 0 {
		t.Fatalf("first run: exit %d: %s", code, stderr)
	}
	first, _ := os.ReadFile(out)
	st1, _ := os.Stat(out)
	if n := strings.Count(string(first), "\n"); n != 1+len(l.Hosts) {
		t.Fatalf("file has %d lines, want header + %d hosts:\n%s", n, len(l.Hosts), first)
	}

	// Unchanged content is not rewritten.
	if _, stderr, code := run(t, h0, dir, "-o", out, "--keep", "1h"); code != 0 {
		t.Fatalf("second run: exit %d: %s", code, stderr)
	}
	st2, _ := os.Stat(out)
	if !os.SameFile(st1, st2) || !st2.ModTime().Equal(st1.ModTime()) {
		t.Errorf("unchanged hostfile was rewritten")
	}

	// A host that dozes off stays, thanks to --keep.
	if err := l.Hosts[3].SetLoss(100); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := run(t, h0, dir, "-o", out, "--keep", "1h", "--no-mdns"); code != 0 {
		t.Fatalf("keep run: exit %d: %s", code, stderr)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, first) {
		t.Errorf("--keep dropped the silent host:\n%s\nwant\n%s", got, first)
	}
	// Without --keep it is gone.
	if _, stderr, code := run(t, h0, dir, "-o", out, "--no-mdns"); code != 0 {
		t.Fatalf("run without keep: exit %d: %s", code, stderr)
	}
	if got, _ := os.ReadFile(out); strings.Contains(string(got), l.Hosts[3].Addr.String()+"\t") {
		t.Errorf("silent host still listed without --keep:\n%s", got)
	}

	// A sweep that finds nothing leaves the file alone and exits 3.
	before, _ := os.ReadFile(out)
	for _, h := range l.Hosts[1:] {
		if err := h.SetLoss(100); err != nil {
			t.Fatal(err)
		}
	}
	_, stderr, code := run(t, h0, dir, "-o", out, "--no-mdns", "--timeout", "100ms")
	if code != 3 || strings.Count(stderr, "\n") != 1 {
		t.Errorf("empty sweep: exit %d, stderr %q; want 3 and one line", code, stderr)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, before) {
		t.Errorf("empty sweep changed the file")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 { // hosts + .hosts.seen.json
		t.Errorf("directory holds %d entries, want the file and its --keep state", len(entries))
	}
}

func TestLabErrorsAreOneLine(t *testing.T) {
	l := lab.New(t, lab.Config{Hosts: 2})
	h := l.Hosts[0]
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{name: "unknown_interface", args: []string{"-i", "wlan9"}, code: 2, want: `unknown interface "wlan9"`},
		{name: "cidr_not_on_link", args: []string{"--cidr", "198.51.100.0/24"}, code: 2, want: "198.51.100.0/24"},
		{name: "too_large", args: []string{"--cidr", "10.0.0.0/8"}, code: 2, want: "/8"},
		{name: "unknown_format", args: []string{"-f", "yaml"}, code: 2, want: "yaml"},
		{name: "no_privileges", args: nil, code: 1, want: "CAP_NET_RAW"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			bin := ipfinderBin
			if tt.name == "no_privileges" {
				// Drop root and every capability, as an ordinary user runs it.
				args = []string{"--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", ipfinderBin}
				bin = "setpriv"
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := h.Command(ctx, bin, args...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != tt.code {
				t.Fatalf("err %v, want exit %d; stderr %q", err, tt.code, stderr.String())
			}
			if got := stderr.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, tt.want) {
				t.Errorf("stderr %q: want one line containing %q", got, tt.want)
			}
		})
	}
}

func TestLabErlangWorldAndEPMD(t *testing.T) {
	l := lab.New(t, lab.Config{Hosts: 4})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	nodes := []string{"app@" + l.Hosts[1].Addr.String(), "app@" + l.Hosts[2].Addr.String()}
	for i, n := range nodes {
		h := l.Hosts[i+1]
		if err := h.Start(h.Command(ctx, "erl", "-name", n, "-setcookie", "labcookie", "-noshell")); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()

	// --epmd lists exactly the registered nodes; hosts without epmd add nothing.
	want := "'" + nodes[0] + "'.\n'" + nodes[1] + "'.\n"
	deadline := time.Now().Add(20 * time.Second)
	var stdout, stderr string
	var code int
	for {
		stdout, stderr, code = run(t, l.Hosts[0], dir, "-f", "erlang", "--epmd")
		if code == 0 && strings.HasSuffix(stdout, want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond) // the Erlang nodes are still starting
	}
	if code != 0 || !strings.HasSuffix(stdout, want) || strings.Count(stdout, "'") != 4 {
		t.Fatalf("ipfinder -f erlang --epmd: exit %d, stdout:\n%s\nstderr: %s\nwant the two nodes", code, stdout, stderr)
	}

	// The host list, read by a real erl, lets net_adm:world() find them.
	if _, stderr, code := run(t, l.Hosts[0], dir, "-f", "erlang", "-o", filepath.Join(dir, ".hosts.erlang")); code != 0 {
		t.Fatalf("ipfinder -f erlang: exit %d: %s", code, stderr)
	}
	self := "probe@" + l.Hosts[0].Addr.String()
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	cmd := l.Hosts[0].Command(wctx, "erl", "-name", self, "-setcookie", "labcookie", "-noshell",
		"-eval", `io:format("~p~n", [lists:sort(net_adm:world())]), halt().`)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("erl net_adm:world(): %v\n%s", err, out)
	}
	for _, n := range append(nodes, self) {
		if !strings.Contains(string(out), "'"+n+"'") {
			t.Errorf("net_adm:world() = %s, want it to hold %s", out, n)
		}
	}
}

func TestLabIPConflict(t *testing.T) {
	l := lab.New(t, lab.Config{Hosts: 3})
	taken := l.Hosts[1]
	// Host 2 claims host 1's address as well: two MACs answer for it.
	bits := l.Prefix.Bits()
	out, err := l.Hosts[2].Command(context.Background(), "ip", "addr", "add",
		fmt.Sprintf("%s/%d", taken.Addr, bits), "dev", "eth0").CombinedOutput()
	if err != nil {
		t.Fatalf("ip addr add: %v: %s", err, out)
	}
	stdout, stderr, code := run(t, l.Hosts[0], "", "-f", "json", "--no-mdns")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var hosts []jsonHost
	if err := json.Unmarshal([]byte(stdout), &hosts); err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(hosts, func(h jsonHost) bool { return h.IP == taken.Addr.String() })
	if i < 0 {
		t.Fatalf("%s not found:\n%s", taken.Addr, stdout)
	}
	macs := append([]string{hosts[i].MAC}, hosts[i].Conflict...)
	slices.Sort(macs)
	want := []string{taken.MAC.String(), l.Hosts[2].MAC.String()}
	slices.Sort(want)
	if !slices.Equal(macs, want) {
		t.Errorf("%s: mac %s conflict %v, want both of %v", taken.Addr, hosts[i].MAC, hosts[i].Conflict, want)
	}
	if !strings.Contains(stderr, "IP conflict") || !strings.Contains(stderr, taken.Addr.String()) ||
		!strings.Contains(stderr, l.Hosts[2].MAC.String()) {
		t.Errorf("stderr does not report the conflict: %q", stderr)
	}
	// Once, in the commands' warning style.
	if !strings.HasPrefix(stderr, "ipfinder: warning: IP conflict: several MACs answer for "+taken.Addr.String()+": ") ||
		strings.Count(stderr, "\n") != 1 {
		t.Errorf("stderr %q: want one line, ipfinder: warning: IP conflict: ...", stderr)
	}
}

// TestLabBadMDNSNameIsDropped runs a real avahi-daemon that announces
// "evil.1", a name no hostfile can hold (its last label is all digits):
// the sweep drops the name with a -v note, keeps the host under its
// generated name, and writes the file.
func TestLabBadMDNSNameIsDropped(t *testing.T) {
	l := lab.New(t, lab.Config{Hosts: 3})
	if err := l.Hosts[1].StartAvahiDomain("evil", "1"); err != nil {
		t.Fatal(err)
	}
	if err := l.Hosts[2].StartAvahi("labhost3"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "hosts")
	// Poll: the responder may be slow to answer under load.
	deadline := time.Now().Add(30 * time.Second)
	var stderr string
	var code int
	for {
		_, stderr, code = run(t, l.Hosts[0], dir, "-v", "-o", out, "--no-self")
		if code != 0 || strings.Contains(stderr, "evil.1") || time.Now().After(deadline) {
			break
		}
	}
	if code != 0 {
		t.Fatalf("exit %d, want 0; stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "dropped mDNS name") || !strings.Contains(stderr, "evil.1") {
		t.Errorf("stderr has no -v note about evil.1:\n%s", stderr)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	evil := l.Hosts[1].Addr.String()
	for _, want := range []string{
		evil + "\thost-" + strings.ReplaceAll(evil, ".", "-") + "\n",
		l.Hosts[2].Addr.String() + "\tlabhost3.local\n",
	} {
		if !strings.Contains(string(got), want) {
			t.Errorf("hostfile lacks %q:\n%s", want, got)
		}
	}
}
