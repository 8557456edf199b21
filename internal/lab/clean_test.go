//go:build linux

package lab

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseNSName(t *testing.T) {
	tests := []struct {
		name, in string
		lab      string
		pid      int
		ok       bool
	}{
		{"host", "ipfl-123-4-h17", "ipfl-123-4", 123, true},
		{"bridge", "ipfl-9-1-br", "ipfl-9-1", 9, true},
		{"other_prefix", "foo-123-4-h1", "", 0, false},
		{"no_suffix", "ipfl-123-4", "", 0, false},
		{"bad_pid", "ipfl-x-4-h1", "", 0, false},
		{"zero_pid", "ipfl-0-4-h1", "", 0, false},
		{"bad_seq", "ipfl-12--h1", "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lab, pid, ok := parseNSName(tt.in)
			if lab != tt.lab || pid != tt.pid || ok != tt.ok {
				t.Errorf("parseNSName(%q) = %q, %d, %v; want %q, %d, %v", tt.in, lab, pid, ok, tt.lab, tt.pid, tt.ok)
			}
		})
	}
}

// TestHelperCrashedLab is not a test: run by TestCleanStale as a child, it
// builds a lab, starts a process in it that outlives the child, prints
// the lab's name and that process's PID, and exits without closing.
func TestHelperCrashedLab(t *testing.T) {
	if os.Getenv("LAB_HELPER_CRASH") != "1" {
		t.Skip("helper process for TestCleanStale")
	}
	l, err := Start(Config{Hosts: 2})
	if err != nil {
		t.Fatal(err)
	}
	cmd := l.Hosts[0].Command(context.Background(), "sleep", "600")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // survives this process
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// `ip netns exec` enters the namespace a moment after it starts.
	Eventually(t, 5*time.Second, "sleep in the lab's namespace", func() error {
		if pids, err := nsPIDs([]string{l.Hosts[0].Name}); err != nil || len(pids) == 0 {
			return fmt.Errorf("no process (%v)", err)
		}
		return nil
	})
	os.Stdout.WriteString("LAB " + l.Name + "\n")
	os.Exit(0)
}

func TestCleanStale(t *testing.T) {
	t.Parallel()
	New(t, Config{Hosts: 1}) // skips when not root; a live lab CleanStale must keep
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperCrashedLab$")
	cmd.Env = append(os.Environ(), "LAB_HELPER_CRASH=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	var name string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "LAB "); ok {
			name = v
		}
	}
	if name == "" {
		t.Fatalf("helper printed no lab name:\n%s", out)
	}
	host := name + "-h1"
	pids, err := nsPIDs([]string{host})
	if err != nil || len(pids) == 0 {
		t.Fatalf("no process left in crashed lab %s: %v %v", host, pids, err)
	}
	removed, err := CleanStale(false)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{name + "-br", host, name + "-h2"} {
		if !slices.Contains(removed, want) {
			t.Errorf("CleanStale removed %v, want %s among them", removed, want)
		}
		if _, err := os.Stat(filepath.Join(nsDir, want)); err == nil {
			t.Errorf("%s still exists", want)
		}
	}
	if _, err := os.Stat(filepath.Join(netnsEtc, host)); !os.IsNotExist(err) {
		t.Errorf("%s/%s (its resolv.conf) still exists: %v", netnsEtc, host, err)
	}
	for _, r := range removed {
		if strings.HasPrefix(r, NamePrefix+strconv.Itoa(os.Getpid())+"-") {
			t.Errorf("CleanStale removed %s of this live process", r)
		}
	}
	for _, pid := range pids {
		if _, err := statNS("/proc/" + strconv.Itoa(pid) + "/ns/net"); err == nil {
			t.Errorf("process %d of the crashed lab still runs", pid)
		}
	}
}

func FuzzParseNSName(f *testing.F) {
	for _, s := range []string{"ipfl-123-4-h17", "ipfl-9-1-br", "ipfl--", "ipfl-1-2-", "other"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lab, pid, ok := parseNSName(s)
		if !ok {
			return
		}
		if pid <= 0 || !strings.HasPrefix(s, lab+"-") || len(s) == len(lab)+1 {
			t.Errorf("parseNSName(%q) = %q, %d: want a proper prefix and PID", s, lab, pid)
		}
	})
}
