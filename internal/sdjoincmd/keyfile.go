package sdjoincmd

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
)

// keyLen is the size of an AES-256 key.
const keyLen = 32

// parseKey decodes a key file's content: exactly 32 raw bytes, or (white
// space around it ignored) 64 hex digits or base64 of 32 bytes.
func parseKey(b []byte) ([]byte, error) {
	if len(b) == keyLen {
		return bytes.Clone(b), nil
	}
	s := string(bytes.TrimSpace(b))
	if k, err := hex.DecodeString(s); err == nil && len(k) == keyLen {
		return k, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == keyLen {
			return k, nil
		}
	}
	return nil, errors.New("want a 32-byte key: 32 raw bytes, 64 hex digits or base64 (make one with `head -c32 /dev/urandom | base64`)")
}

// readKeyFile reads and decodes the key file at path, refusing one that
// others may read.
func readKeyFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	if m := fi.Mode().Perm(); m&0o007 != 0 {
		return nil, fmt.Errorf("key file %s is accessible by others (mode %#o): chmod 600 %s", path, m, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	k, err := parseKey(b)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return k, nil
}
