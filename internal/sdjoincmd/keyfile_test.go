package sdjoincmd

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func TestParseKey(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{name: "raw_32_bytes", in: string(testKey), ok: true},
		{name: "hex", in: hex.EncodeToString(testKey), ok: true},
		{name: "hex_newline", in: hex.EncodeToString(testKey) + "\n", ok: true},
		{name: "base64_newline", in: base64.StdEncoding.EncodeToString(testKey) + "\n", ok: true},
		{name: "base64_raw_url", in: base64.RawURLEncoding.EncodeToString(testKey), ok: true},
		{name: "short_raw", in: "0123456789abcdef", ok: false},
		{name: "base64_of_16_bytes", in: base64.StdEncoding.EncodeToString(testKey[:16]), ok: false},
		{name: "hex_of_31_bytes", in: hex.EncodeToString(testKey[:31]), ok: false},
		{name: "empty", in: "", ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := parseKey([]byte(tt.in))
			if (err == nil) != tt.ok {
				t.Fatalf("parseKey(%q) error = %v, want ok %v", tt.in, err, tt.ok)
			}
			if tt.ok && !bytes.Equal(k, testKey) {
				t.Errorf("parseKey(%q) = %x, want %x", tt.in, k, testKey)
			}
		})
	}
}

func TestReadKeyFileRefusesOpenMode(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		mode    os.FileMode
		wantErr string
	}{
		{name: "private", mode: 0o600},
		{name: "group_readable", mode: 0o640},
		{name: "world_readable", mode: 0o644, wantErr: "chmod 600"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, tt.name)
			if err := os.WriteFile(p, []byte(hex.EncodeToString(testKey)), tt.mode); err != nil {
				t.Fatal(err)
			}
			os.Chmod(p, tt.mode) // beat the umask
			_, err := readKeyFile(p)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("readKeyFile(mode %#o) = %v, want %q", tt.mode, err, tt.wantErr)
			}
		})
	}
}

func FuzzParseKey(f *testing.F) {
	f.Add(testKey)
	f.Add([]byte(hex.EncodeToString(testKey)))
	f.Add([]byte(base64.StdEncoding.EncodeToString(testKey) + "\n"))
	f.Add([]byte(" \t"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := parseKey(b)
		if err == nil && len(k) != keyLen {
			t.Fatalf("parseKey(%q) = %d bytes", b, len(k))
		}
	})
}
