package sdnotify

import (
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func TestNotify(t *testing.T) {
	for _, name := range []string{"path", "abstract"} {
		t.Run(name, func(t *testing.T) {
			addr := filepath.Join(t.TempDir(), "notify")
			env := addr
			if name == "abstract" {
				env = "@sdnotify-test-" + strconv.FormatInt(time.Now().UnixNano(), 36)
				addr = "\x00" + env[1:]
			}
			ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			t.Setenv("NOTIFY_SOCKET", env)
			if sent, err := Notify("READY=1"); !sent || err != nil {
				t.Fatalf("Notify = %v, %v; want sent", sent, err)
			}
			ln.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 64)
			n, err := ln.Read(buf)
			if err != nil || string(buf[:n]) != "READY=1" {
				t.Errorf("got %q, %v; want READY=1", buf[:n], err)
			}
		})
	}
}

func TestNotifyUnset(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	if sent, err := Notify("READY=1"); sent || err != nil {
		t.Errorf("Notify without NOTIFY_SOCKET = %v, %v; want a no-op", sent, err)
	}
}

func TestNotifyNoListener(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "missing"))
	if sent, err := Notify("READY=1"); sent || err == nil {
		t.Errorf("Notify to a missing socket = %v, %v; want an error", sent, err)
	}
}
