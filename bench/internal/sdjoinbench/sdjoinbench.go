// Package sdjoinbench holds what the sdjoin benchmarks share: the sdjoin
// binary to run and reading an agent's list over its control socket.
package sdjoinbench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Prepare makes a temporary directory named after prefix, which the
// caller removes, and returns it with the sdjoin binary to run: bin, or,
// when bin is empty, one built from ./cmd/sdjoin into that directory (as
// the .deb builds it: without urfave/cli's unused doc generators).
func Prepare(prefix, bin string) (dir, sdjoin string, err error) {
	dir, err = os.MkdirTemp("", prefix)
	if err != nil {
		return "", "", err
	}
	if bin != "" {
		return dir, bin, nil
	}
	sdjoin = filepath.Join(dir, "sdjoin")
	if out, err := exec.Command("go", "build", "-tags", "urfave_cli_no_docs", "-o", sdjoin, "github.com/ipfinder-go/ipfinder/cmd/sdjoin").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return dir, sdjoin, nil
}

// Call sends one request line req to the agent's control socket sock
// and decodes the reply line into v.
func Call(sock, req string, v any) error {
	c, err := net.DialTimeout("unix", sock, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := fmt.Fprintln(c, req); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadBytes('\n')
	if err != nil {
		return err
	}
	return json.Unmarshal(line, v)
}

// List asks the agent at control socket sock for the providers of
// service and returns their node names, sorted.
func List(sock, service string) ([]string, error) {
	req, err := json.Marshal(map[string]string{"op": "list", "service": service})
	if err != nil {
		return nil, err
	}
	var r struct {
		Error   string `json:"error"`
		Entries []struct {
			Node string `json:"node"`
		} `json:"entries"`
	}
	if err := Call(sock, string(req), &r); err != nil {
		return nil, err
	}
	if r.Error != "" {
		return nil, fmt.Errorf("list: %s", r.Error)
	}
	var ns []string
	for _, e := range r.Entries {
		ns = append(ns, e.Node)
	}
	slices.Sort(ns)
	return ns, nil
}

// CPUTicks returns the CPU time process pid has used, user and system,
// in clock ticks (from /proc/PID/stat).
func CPUTicks(pid int) (int64, error) {
	path := fmt.Sprintf("/proc/%d/stat", pid)
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	_, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0, fmt.Errorf("%s: unexpected format", path)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("%s: unexpected format", path)
	}
	return u + s, nil
}

// RunTime returns the CPU time the live threads of process pid have
// used, in nanoseconds (the first field of each
// /proc/PID/task/TID/schedstat): over a window of seconds, ticks (10 ms
// each) are too coarse to tell idle agents apart.
func RunTime(pid int) (time.Duration, error) {
	paths, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(paths) == 0 {
		return 0, fmt.Errorf("process %d: no threads in /proc", pid)
	}
	var sum time.Duration
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // the thread exited
		}
		f := strings.Fields(string(b))
		if len(f) < 1 {
			return 0, fmt.Errorf("%s: unexpected format", path)
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: unexpected format", path)
		}
		sum += time.Duration(ns)
	}
	return sum, nil
}

// WaitUntil polls cond every interval until it holds, or fails when
// within passes first.
func WaitUntil(within, every time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(every)
	}
	return nil
}
