package scan

import (
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
