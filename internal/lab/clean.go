//go:build linux

package lab

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// CleanStale removes labs left behind by processes that died without
// closing them: it kills every process in their namespaces (as `ip netns
// pids` finds them), deletes the namespaces and their temporary directories,
// and returns the names of the namespaces it deleted. A lab belongs to the
// process whose PID is in its name; with all, labs of live processes are
// removed too (use it when a PID was reused). Their /etc/netns/NAME
// directories ([Host.UseResolver]) go with them.
func CleanStale(all bool) ([]string, error) {
	entries, err := os.ReadDir(nsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	labs := make(map[string][]string) // lab name -> its namespaces
	for _, e := range entries {
		lab, pid, ok := parseNSName(e.Name())
		if !ok || !all && processAlive(pid) {
			continue
		}
		labs[lab] = append(labs[lab], e.Name())
	}
	var removed []string
	var errs []error
	for lab, names := range labs {
		if err := killNS(names, 5*time.Second); err != nil {
			errs = append(errs, err)
			continue
		}
		for _, name := range names {
			if err := deleteNS(name); err != nil {
				errs = append(errs, err)
				continue
			}
			removed = append(removed, name)
		}
		dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), lab+"-*"))
		etc, _ := filepath.Glob(filepath.Join(netnsEtc, lab+"-*"))
		dirs = append(dirs, etc...)
		for _, d := range dirs {
			errs = append(errs, os.RemoveAll(d))
		}
	}
	sort.Strings(removed)
	return removed, errors.Join(errs...)
}

// parseNSName splits a lab namespace name "ipfl-PID-N-SUFFIX" into its lab
// name "ipfl-PID-N" and PID.
func parseNSName(s string) (lab string, pid int, ok bool) {
	rest, ok := strings.CutPrefix(s, NamePrefix)
	if !ok {
		return "", 0, false
	}
	parts := strings.SplitN(rest, "-", 3)
	if len(parts) != 3 || parts[2] == "" {
		return "", 0, false
	}
	pid, err := strconv.Atoi(parts[0])
	if err != nil || pid <= 0 {
		return "", 0, false
	}
	if _, err := strconv.ParseUint(parts[1], 10, 32); err != nil {
		return "", 0, false
	}
	return NamePrefix + parts[0] + "-" + parts[1], pid, true
}

// processAlive reports whether a process with pid exists.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
