package packaging

import (
	"bytes"
	"compress/gzip"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// root is the repository root, from this package's directory.
const root = ".."

const testVersion = "1.2.3~test"

var (
	buildOnce sync.Once
	debPath   string
	buildErr  error
	buildDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// deb builds the package once with scripts/package.sh and returns it.
func deb(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "ipfinder-deb-"); buildErr != nil {
			return
		}
		cmd := exec.Command(filepath.Join(root, "scripts/package.sh"))
		cmd.Env = append(os.Environ(), "VERSION="+testVersion, "DIST="+buildDir)
		var out []byte
		if out, buildErr = cmd.CombinedOutput(); buildErr != nil {
			buildErr = &exec.ExitError{ProcessState: cmd.ProcessState, Stderr: out}
			t.Logf("package.sh:\n%s", out)
			return
		}
		debPath = strings.TrimSpace(string(out))
	})
	if buildErr != nil {
		t.Fatalf("scripts/package.sh: %v", buildErr)
	}
	return debPath
}

// extract unpacks the package into a new throwaway root.
func extract(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	run(t, "dpkg-deb", "-x", deb(t), dir)
	return dir
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestPackage checks the control fields and the contents of the .deb,
// then runs the packaged binaries from a throwaway root.
func TestPackage(t *testing.T) {
	p := deb(t)
	if want := "ipfinder_" + testVersion + "_" + runtime.GOARCH + ".deb"; filepath.Base(p) != want {
		t.Errorf("package %s, want %s", filepath.Base(p), want)
	}
	fields := map[string]string{
		"Package": "ipfinder", "Version": testVersion, "Architecture": runtime.GOARCH,
		"Depends": "adduser, libcap2-bin", "Section": "net",
	}
	for f, want := range fields {
		if got := strings.TrimSpace(run(t, "dpkg-deb", "-f", p, f)); got != want {
			t.Errorf("control field %s = %q, want %q", f, got, want)
		}
	}
	checkContents(t, run(t, "dpkg-deb", "-c", p))
	info := t.TempDir()
	run(t, "dpkg-deb", "-e", p, info)
	if b, _ := os.ReadFile(filepath.Join(info, "conffiles")); string(b) != "/etc/default/ipfinder\n/etc/default/sdjoin\n" {
		t.Errorf("conffiles = %q", b)
	}

	dir := extract(t)
	for _, cmd := range []string{"ipfinder", "sdjoin"} {
		bin := filepath.Join(dir, "usr/bin", cmd)
		checkStatic(t, bin)
		out := run(t, bin, "--version")
		want := cmd + " " + testVersion + " (" + runtime.Version() + ", linux/" + runtime.GOARCH
		if !strings.HasPrefix(out, want) {
			t.Errorf("%s --version = %q, want it to start with %q", cmd, out, want)
		}
		if help := run(t, bin, "--help"); !strings.Contains(help, "USAGE:") {
			t.Errorf("%s --help has no USAGE:\n%s", cmd, help)
		}
		man, _ := os.ReadFile(filepath.Join(root, "docs/man", cmd+".1"))
		if got := gunzip(t, filepath.Join(dir, "usr/share/man/man1", cmd+".1.gz")); !bytes.Equal(got, man) {
			t.Errorf("packaged %s.1.gz differs from docs/man/%s.1", cmd, cmd)
		}
	}
	if out := run(t, filepath.Join(dir, "usr/bin/sdjoin"), "--version"); !strings.Contains(out, "gossip protocol") {
		t.Errorf("sdjoin --version = %q, want the gossip protocol", out)
	}
}

// checkContents checks the paths, modes and owners in dpkg-deb -c output.
func checkContents(t *testing.T, listing string) {
	t.Helper()
	want := map[string]string{
		"./usr/bin/ipfinder":                                  "-rwxr-xr-x",
		"./usr/bin/sdjoin":                                    "-rwxr-xr-x",
		"./usr/share/man/man1/ipfinder.1.gz":                  "-rw-r--r--",
		"./usr/share/man/man1/sdjoin.1.gz":                    "-rw-r--r--",
		"./usr/share/bash-completion/completions/ipfinder":    "-rw-r--r--",
		"./usr/share/bash-completion/completions/sdjoin":      "-rw-r--r--",
		"./usr/share/zsh/vendor-completions/_ipfinder":        "-rw-r--r--",
		"./usr/share/zsh/vendor-completions/_sdjoin":          "-rw-r--r--",
		"./usr/share/fish/vendor_completions.d/ipfinder.fish": "-rw-r--r--",
		"./usr/share/fish/vendor_completions.d/sdjoin.fish":   "-rw-r--r--",
		"./usr/lib/systemd/system/sdjoin.service":             "-rw-r--r--",
		"./usr/lib/systemd/system/ipfinder.service":           "-rw-r--r--",
		"./usr/lib/systemd/system/ipfinder.timer":             "-rw-r--r--",
		"./etc/default/sdjoin":                                "-rw-r--r--",
		"./etc/default/ipfinder":                              "-rw-r--r--",
	}
	for _, line := range strings.Split(strings.TrimSpace(listing), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 {
			t.Errorf("dpkg-deb -c line %q", line)
			continue
		}
		mode, owner, path := f[0], f[1], f[5]
		if owner != "root/root" {
			t.Errorf("%s owned by %s, want root/root", path, owner)
		}
		if m, ok := want[path]; ok {
			if mode != m {
				t.Errorf("%s has mode %s, want %s", path, mode, m)
			}
			delete(want, path)
		}
	}
	for path := range want {
		t.Errorf("package lacks %s", path)
	}
}

// checkStatic checks that bin is a static executable (CGO_ENABLED=0):
// no program interpreter.
func checkStatic(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s is dynamically linked", bin)
		}
	}
}

func gunzip(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestUnitsVerify runs systemd-analyze verify on the packaged units,
// with their /usr/bin paths pointing into a throwaway root and the man
// pages of Documentation= found there: any message fails.
func TestUnitsVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatalf("systemd-analyze not found (%v): install systemd (scripts/setup.sh does)", err)
	}
	dir := extract(t)
	units := t.TempDir()
	var paths []string
	for _, u := range []string{"sdjoin.service", "ipfinder.service", "ipfinder.timer"} {
		b, err := os.ReadFile(filepath.Join(dir, "usr/lib/systemd/system", u))
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.ReplaceAll(b, []byte("/usr/bin/"), []byte(dir+"/usr/bin/"))
		path := filepath.Join(units, u)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
	}
	cmd := exec.Command(analyze, append([]string{"verify"}, paths...)...)
	cmd.Env = append(os.Environ(), "MANPATH="+filepath.Join(dir, "usr/share/man"), "SYSTEMD_LOG_COLOR=0")
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestUnitsSettings checks what systemd-analyze cannot: the settings the
// units are for.
func TestUnitsSettings(t *testing.T) {
	want := map[string][]string{
		"sdjoin.service": {"Type=notify", "User=sdjoin", "RuntimeDirectory=sdjoin", "RuntimeDirectoryMode=0750",
			"EnvironmentFile=-/etc/default/sdjoin", "ExecStart=/usr/bin/sdjoin $SDJOIN_OPTS", "ExecReload=kill -HUP $MAINPID",
			"KillSignal=SIGTERM", "Restart=on-failure", "NoNewPrivileges=yes", "ProtectSystem=strict",
			"ProtectHome=read-only", "PrivateTmp=yes", "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK",
			"CapabilityBoundingSet=\n"},
		"ipfinder.service": {"Type=oneshot", "User=ipfinder", "ExecStart=/usr/bin/ipfinder --keep 24h -o /var/lib/ipfinder/hosts",
			"StateDirectory=ipfinder", "AmbientCapabilities=CAP_NET_RAW\n", "CapabilityBoundingSet=CAP_NET_RAW\n",
			"NoNewPrivileges=yes", "SuccessExitStatus=3"},
		"ipfinder.timer": {"OnBootSec=1min", "OnUnitActiveSec=10min", "RandomizedDelaySec=30s", "WantedBy=timers.target"},
	}
	for unit, settings := range want {
		b, err := os.ReadFile(filepath.Join("systemd", unit))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range settings {
			if !bytes.Contains(b, []byte(s)) {
				t.Errorf("%s lacks %q", unit, s)
			}
		}
	}
}

// TestUnitsFlags runs the packaged binaries with the options the units
// and /etc/default give them, plus one that makes them stop with a
// usage error after parsing the rest (so nothing is swept or joined):
// the error must be that one, not an unknown flag.
func TestUnitsFlags(t *testing.T) {
	dir := extract(t)
	tests := []struct {
		cmd  string
		args []string
		want string
	}{
		{"ipfinder", []string{"--keep", "24h", "-o", "/var/lib/ipfinder/hosts", "-i", "eth0", "--no-netbios", "--no-arp", "--no-mdns"}, "leave nothing to sweep"},
		{"sdjoin", []string{"--hostfile=/var/lib/ipfinder/hosts", "--key-file", "/nonexistent", "--track", "web", "--meta", "port=80", "--name", "bad name"}, "bad --name"},
	}
	for _, tt := range tests {
		out, err := exec.Command(filepath.Join(dir, "usr/bin", tt.cmd), tt.args...).CombinedOutput()
		if code := exitCode(err); code != 2 || !strings.Contains(string(out), tt.want) {
			t.Errorf("%s %s: exit %d, %q; want exit 2 and %q", tt.cmd, strings.Join(tt.args, " "), code, out, tt.want)
		}
	}
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// dpkgScript installs, reinstalls, removes and purges the package with
// dpkg into a throwaway root (--root, maintainer scripts run chrootless
// with DPKG_ROOT), in a mount namespace of its own with a copy of /etc,
// so that the users the scripts create never reach this machine's /etc.
// The root has an empty dpkg database: dependencies are forced.
const dpkgScript = `set -eu
deb=$1 root=$2 etc=$3
cp -a /etc/. "$etc"
mount --bind "$etc" /etc
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
touch "$root/var/lib/dpkg/status"
dpkg() { command dpkg --root="$root" --force-script-chrootless --force-not-root --force-depends --log=/dev/null "$@" >/dev/null 2>&1; }
dpkg -i "$deb"
echo "users: $(getent passwd ipfinder | cut -d: -f1,7) $(getent passwd sdjoin | cut -d: -f1,7) $(getent group sdjoin | cut -d: -f1)"
echo "caps: $(getcap "$root/usr/bin/ipfinder")"
echo "as ipfinder: $(setpriv --reuid=ipfinder --regid=ipfinder --clear-groups "$root/usr/bin/ipfinder" --version)"
echo "as sdjoin: $(setpriv --reuid=sdjoin --regid=sdjoin --clear-groups "$root/usr/bin/sdjoin" --version)"
echo "# edited" >>"$root/etc/default/sdjoin"
dpkg -i "$deb"
echo "conffile kept: $(tail -1 "$root/etc/default/sdjoin")"
mkdir -p "$root/var/lib/ipfinder" && echo 192.0.2.1 >"$root/var/lib/ipfinder/hosts"
dpkg -r ipfinder
echo "after remove: $(getent passwd sdjoin | cut -d: -f1) $(ls "$root/etc/default")"
dpkg -P ipfinder
echo "after purge: [$(getent passwd ipfinder sdjoin || true)] [$(getent group ipfinder sdjoin || true)] [$(ls "$root/var/lib" | grep -v '^dpkg$' || true)] conffiles $(test -e "$root/etc/default/sdjoin" && echo kept || echo gone)"
`

// TestDpkgInstall installs the package with dpkg into a throwaway root
// (see dpkgScript): the system users are created, ipfinder gets
// cap_net_raw, the binaries run as those users, a reinstall keeps an
// edited conffile, remove keeps the users and the conffiles, purge
// removes the users, /var/lib/ipfinder and the conffiles.
func TestDpkgInstall(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root: mounts a copy of /etc in a mount namespace of its own")
	}
	root := t.TempDir()
	out := run(t, "unshare", "-m", "--propagation", "private", "sh", "-c", dpkgScript, "sh", deb(t), root, t.TempDir())
	for _, want := range []string{
		"users: ipfinder:/usr/sbin/nologin sdjoin:/usr/sbin/nologin sdjoin\n",
		"caps: " + root + "/usr/bin/ipfinder cap_net_raw=ep\n",
		"as ipfinder: ipfinder " + testVersion + " (",
		"as sdjoin: sdjoin " + testVersion + " (",
		"conffile kept: # edited\n",
		"after remove: sdjoin ipfinder\nsdjoin\n",
		"after purge: [] [] [] conffiles gone\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dpkg in a throwaway root: output lacks %q:\n%s", want, out)
		}
	}
	if b, _ := os.ReadFile("/etc/passwd"); bytes.Contains(b, []byte("\nsdjoin:")) && !hadUser {
		t.Error("the test's users reached this machine's /etc/passwd")
	}
}

// hadUser: this machine had an sdjoin user before the tests.
var hadUser = func() bool {
	b, _ := os.ReadFile("/etc/passwd")
	return bytes.Contains(b, []byte("\nsdjoin:"))
}()
