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
	"time"
)

// Prepare makes a temporary directory named after prefix, which the
// caller removes, and returns it with the sdjoin binary to run: bin, or,
// when bin is empty, one built from ./cmd/sdjoin into that directory.
func Prepare(prefix, bin string) (dir, sdjoin string, err error) {
	dir, err = os.MkdirTemp("", prefix)
	if err != nil {
		return "", "", err
	}
	if bin != "" {
		return dir, bin, nil
	}
	sdjoin = filepath.Join(dir, "sdjoin")
	if out, err := exec.Command("go", "build", "-o", sdjoin, "github.com/ipfinder-go/ipfinder/cmd/sdjoin").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return dir, sdjoin, nil
}

// List asks the agent at control socket sock for the providers of
// service and returns their node names, sorted.
func List(sock, service string) ([]string, error) {
	c, err := net.DialTimeout("unix", sock, time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	req, err := json.Marshal(map[string]string{"op": "list", "service": service})
	if err != nil {
		return nil, err
	}
	if _, err := c.Write(append(req, '\n')); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(c).ReadBytes('\n')
	if err != nil {
		return nil, err
	}
	var r struct {
		Error   string `json:"error"`
		Entries []struct {
			Node string `json:"node"`
		} `json:"entries"`
	}
	if err := json.Unmarshal(line, &r); err != nil {
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
