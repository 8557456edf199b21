package sdjoinbench

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// serve answers one request on a fresh unix socket with reply and
// returns the socket's path and the request it read.
func serve(t *testing.T, reply string) (string, <-chan string) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "ctl.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- err.Error()
			return
		}
		defer c.Close()
		req, _ := bufio.NewReader(c).ReadString('\n')
		got <- req
		c.Write([]byte(reply + "\n"))
	}()
	return sock, got
}

func TestList(t *testing.T) {
	for _, tt := range []struct {
		name    string
		reply   string
		want    []string
		wantErr bool
	}{
		{name: "sorted_nodes", reply: `{"entries":[{"node":"b@192.0.2.2"},{"node":"a@192.0.2.1"}]}`, want: []string{"a@192.0.2.1", "b@192.0.2.2"}},
		{name: "no_entries", reply: `{"entries":[]}`, want: nil},
		{name: "error_reply", reply: `{"error":"no such service"}`, wantErr: true},
		{name: "bad_json", reply: `{`, wantErr: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sock, req := serve(t, tt.reply)
			got, err := List(sock, "svc")
			if (err != nil) != tt.wantErr {
				t.Fatalf("List err = %v, want error %v", err, tt.wantErr)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("List = %q, want %q", got, tt.want)
			}
			if r := <-req; r != `{"op":"list","service":"svc"}`+"\n" {
				t.Errorf("request = %q", r)
			}
		})
	}
}

func TestPrepareKeepsGivenBinary(t *testing.T) {
	dir, bin, err := Prepare("sdjoinbench-test-", "/opt/sdjoin")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Errorf("dir %q: %v, want a directory", dir, err)
	}
	if bin != "/opt/sdjoin" {
		t.Errorf("sdjoin = %q, want the given /opt/sdjoin", bin)
	}
}

func TestCPUTicks(t *testing.T) {
	before, err := CPUTicks(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		after, err := CPUTicks(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if after > before {
			return
		}
		for i := 0; i < 1e6; i++ { // burn CPU until a tick passes
			_ = i * i
		}
	}
	t.Error("CPU ticks of this busy process did not grow in 5 s")
}

func TestCPUTicksNoProcess(t *testing.T) {
	if _, err := CPUTicks(-1); err == nil {
		t.Error("CPUTicks(-1): no error")
	}
}

// TestRunTime: a process's run time grows by about the CPU it burns,
// at nanosecond resolution.
func TestRunTime(t *testing.T) {
	before, err := RunTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for time.Since(start) < 20*time.Millisecond { // busy, on this thread
	}
	after, err := RunTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if used := after - before; used < 10*time.Millisecond || used > 2*time.Second {
		t.Errorf("run time grew by %v over 20 ms of busy loop", used)
	}
	if _, err := RunTime(-1); err == nil {
		t.Error("RunTime(-1): no error")
	}
}

func TestWaitUntil(t *testing.T) {
	n := 0
	if err := WaitUntil(time.Second, time.Millisecond, "three polls", func() bool { n++; return n == 3 }); err != nil || n != 3 {
		t.Errorf("WaitUntil: %v after %d polls, want nil after 3", err, n)
	}
	err := WaitUntil(20*time.Millisecond, time.Millisecond, "never", func() bool { return false })
	if err == nil || !strings.Contains(err.Error(), "waiting for never") {
		t.Errorf("WaitUntil of a condition that never holds: %v", err)
	}
}
