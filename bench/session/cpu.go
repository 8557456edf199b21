//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/ipfinder-go/ipfinder/bench/internal/sdjoinbench"
)

// clockTick is USER_HZ, the unit of /proc/PID/stat's times (100 on Linux).
const clockTick = 100

// agentCPU runs a fourth agent on the third host, alone (no peers), with
// 100 entries checked as kind says (none, tcp or http, at 1 s, against a
// Go HTTP server in this process, listening in the host's namespace),
// waits until they pass, and returns the CPU it used over window as a
// percentage of one core.
func (c *cluster) agentCPU(kind string, window time.Duration) (float64, error) {
	h := c.l.Hosts[2]
	docroot, err := os.MkdirTemp(c.dir, "cpu-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(docroot)
	listen := h.Addr.String() + ":8081"
	var ln net.Listener
	if err := h.Do(func() (err error) { ln, err = net.Listen("tcp", listen); return err }); err != nil {
		return 0, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })}
	go srv.Serve(ln)
	defer srv.Close()
	sock := filepath.Join(docroot, "cpu.sock")
	args := []string{"--name", "cpu", "--bind", h.Addr.String() + ":7950", "--socket", sock,
		"--hostfile", filepath.Join(docroot, "none"), "--no-discover"}
	for i := range 100 {
		args = append(args, "--track", fmt.Sprintf("svc%d", i))
		switch kind {
		case "tcp":
			args = append(args, "--check", "tcp://"+listen, "--check-interval", "1s")
		case "http":
			args = append(args, "--check", "http://"+listen+"/health", "--check-interval", "1s")
		}
	}
	agent := h.Command(context.Background(), c.bin, args...)
	if err := h.Start(agent); err != nil {
		return 0, err
	}
	defer func() { agent.Process.Kill(); agent.Wait() }()
	if err := sdjoinbench.WaitUntil(30*time.Second, 10*time.Millisecond, "100 entries passing", func() bool { return passing(sock) == 100 }); err != nil {
		return 0, err
	}
	pid := agent.Process.Pid
	before, err := sdjoinbench.CPUTicks(pid)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	time.Sleep(window) // the measurement window
	after, err := sdjoinbench.CPUTicks(pid)
	if err != nil {
		return 0, err
	}
	used := time.Duration(after-before) * time.Second / clockTick
	return 100 * used.Seconds() / time.Since(start).Seconds(), nil
}

// passing returns how many entries the agent at sock lists (its tracker
// holds only advertised ones).
func passing(sock string) int {
	var r struct {
		Entries []json.RawMessage `json:"entries"`
	}
	sdjoinbench.Call(sock, `{"op":"list"}`, &r)
	return len(r.Entries)
}
