package sdjoincmd

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
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

// maxKeyFile bounds what is read of a key file: a key in any of its
// encodings, with white space, is far smaller.
const maxKeyFile = 4 << 10

// readKeyFile reads and decodes the key file at path, refusing one that
// others may read, one that is not a regular file (a FIFO would block,
// /dev/zero never end) and one over maxKeyFile bytes.
func readKeyFile(path string) ([]byte, error) {
	f, err := openNonBlocking(path)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("key file %s is not a regular file (%s): give a file holding the key", path, fi.Mode().Type())
	}
	if m := fi.Mode().Perm(); m&0o007 != 0 {
		return nil, fmt.Errorf("key file %s is accessible by others (mode %#o): chmod 600 %s", path, m, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	if len(b) > maxKeyFile {
		return nil, fmt.Errorf("key file %s is over %d bytes: it should hold one 32-byte key", path, maxKeyFile)
	}
	k, err := parseKey(b)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return k, nil
}
