package scan

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
)

func TestOpenError(t *testing.T) {
	err := openError("eth0", &os.SyscallError{Syscall: "socket", Err: syscall.EPERM})
	want := "need CAP_NET_RAW to send ARP: run as root or setcap cap_net_raw+ep on the binary"
	if !strings.Contains(err.Error(), want) || !errors.Is(err, os.ErrPermission) || !strings.Contains(err.Error(), "eth0") {
		t.Errorf("openError(EPERM) = %v, want it to name eth0, say %q and match os.ErrPermission", err, want)
	}
	err = openError("eth0", syscall.ENODEV)
	if strings.Contains(err.Error(), "CAP_NET_RAW") || !errors.Is(err, syscall.ENODEV) {
		t.Errorf("openError(ENODEV) = %v", err)
	}
}

// TestSweepBacksOffWhenQueueFull checks that a full send queue (ENOBUFS)
// pauses sending for sendBackoff and loses no target, while
// maxSendFailures such failures in a row end the sweep.
func TestSweepBacksOffWhenQueueFull(t *testing.T) {
	s, lan := newFakeScanner(t)
	targets := subnet24()[:20]
	for _, a := range targets {
		lan.add(a.String(), &fakeHost{mac: mac(a.As4()[3])})
	}
	lan.mu.Lock()
	lan.failWrites, lan.failErr = 3, syscall.ENOBUFS
	lan.mu.Unlock()
	got, err := s.Sweep(context.Background(), targets, &ARPConfig{Rate: 1e6, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(targets) {
		t.Errorf("found %d hosts, want %d", len(got), len(targets))
	}
	lan.mu.Lock()
	attempts := append(lan.failTimes, lan.sendTimes[0])
	lan.mu.Unlock()
	for i := 1; i < len(attempts); i++ {
		if d := attempts[i].Sub(attempts[i-1]); d < sendBackoff {
			t.Errorf("attempt %d came %v after a failed send, less than the %v backoff", i, d, sendBackoff)
		}
	}

	lan.mu.Lock()
	lan.failWrites = maxSendFailures
	lan.mu.Unlock()
	if _, err := s.Sweep(context.Background(), targets, &ARPConfig{Rate: 1e6, Retries: -1}); !errors.Is(err, syscall.ENOBUFS) {
		t.Errorf("after %d failures in a row: err = %v, want ENOBUFS", maxSendFailures, err)
	}
}
