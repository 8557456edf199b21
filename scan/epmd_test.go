package scan

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeEPMD serves reply to every EPMD_NAMES_REQ on a loopback port; a nil
// reply accepts and never answers.
func fakeEPMD(t *testing.T, reply []byte) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				req := make([]byte, 3)
				if _, err := io.ReadFull(c, req); err != nil || string(req) != "\x00\x01n" {
					t.Errorf("request = %q, %v; want EPMD_NAMES_REQ", req, err)
					return
				}
				if reply == nil {
					<-done
					return
				}
				c.Write(reply)
			})
		}
	})
	t.Cleanup(func() {
		close(done)
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().(*net.TCPAddr).AddrPort()
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) netip.AddrPort {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ap := ln.Addr().(*net.TCPAddr).AddrPort()
	ln.Close()
	return ap
}

const epmdHeader = "\x00\x00\x11\x11"

func TestEPMDNames(t *testing.T) {
	tests := []struct {
		name    string
		addr    func(t *testing.T) netip.AddrPort
		want    []string
		wantErr bool
	}{
		{
			name: "two_nodes",
			addr: func(t *testing.T) netip.AddrPort {
				return fakeEPMD(t, []byte(epmdHeader+"name app at port 37655\nname rabbit at port 25672\n"))
			},
			want: []string{"app", "rabbit"},
		},
		{
			name: "no_nodes",
			addr: func(t *testing.T) netip.AddrPort { return fakeEPMD(t, []byte(epmdHeader)) },
		},
		{
			name: "no_epmd",
			addr: closedPort,
		},
		{
			name:    "malformed_reply",
			addr:    func(t *testing.T) netip.AddrPort { return fakeEPMD(t, []byte(epmdHeader+"hello world\n")) },
			wantErr: true,
		},
		{
			name:    "short_reply",
			addr:    func(t *testing.T) netip.AddrPort { return fakeEPMD(t, []byte{0, 0}) },
			wantErr: true,
		},
		{
			name:    "silent_epmd",
			addr:    func(t *testing.T) netip.AddrPort { return fakeEPMD(t, nil) },
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
			defer cancel()
			got, err := epmdNames(ctx, tt.addr(t))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error: %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("names (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEPMDNamesSilentTimesOut(t *testing.T) {
	ap := fakeEPMD(t, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := epmdNames(ctx, ap)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v after a 100ms deadline", d)
	}
}

func TestParseEPMDNames(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr bool
	}{
		{name: "one", in: epmdHeader + "name app at port 1\n", want: []string{"app"}},
		{name: "no_final_newline", in: epmdHeader + "name a at port 2\nname b_2-x at port 65535", want: []string{"a", "b_2-x"}},
		{name: "empty_lines", in: epmdHeader + "\nname a at port 2\n\n", want: []string{"a"}},
		{name: "header_only", in: epmdHeader},
		{name: "short", in: "\x00\x00\x11", wantErr: true},
		{name: "port_zero", in: epmdHeader + "name a at port 0\n", wantErr: true},
		{name: "port_too_big", in: epmdHeader + "name a at port 65536\n", wantErr: true},
		{name: "at_sign", in: epmdHeader + "name a@b at port 5\n", wantErr: true},
		{name: "control_byte", in: epmdHeader + "name a\x01 at port 5\n", wantErr: true},
		{name: "extra_field", in: epmdHeader + "name a at port 5 x\n", wantErr: true},
		{name: "double_space", in: epmdHeader + "name  a at port 5\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseEPMDNames([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error: %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("names (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParseEPMDNames(f *testing.F) {
	f.Add([]byte(epmdHeader + "name app at port 37655\nname rabbit at port 25672\n"))
	f.Add([]byte(epmdHeader))
	f.Add([]byte(epmdHeader + "name a at port 0\n"))
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, reply []byte) {
		names, err := parseEPMDNames(reply)
		if err != nil && names != nil {
			t.Errorf("names %q with error %v", names, err)
		}
		if len(names) > maxEPMDNames {
			t.Errorf("%d names", len(names))
		}
		for _, n := range names {
			if _, err := parseEPMDLine("name " + n + " at port 1"); err != nil {
				t.Errorf("name %q does not round-trip: %v", n, err)
			}
		}
	})
}
