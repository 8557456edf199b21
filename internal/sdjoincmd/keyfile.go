package sdjoincmd

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
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

// readKeyFile reads and decodes the key file at path (see readSecretFile).
func readKeyFile(path string) ([]byte, error) {
	b, err := readSecretFile("key file", path, 0o007, maxKeyFile)
	if err != nil {
		return nil, err
	}
	k, err := parseKey(b)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return k, nil
}

// readSecretFile reads the file at path holding a secret (what names it
// in errors), refusing one that not is a regular file (a FIFO would
// block, /dev/zero never end), one with any of the permission bits of
// deny (others may read it) and one over limit bytes.
func readSecretFile(what, path string, deny fs.FileMode, limit int64) ([]byte, error) {
	f, err := openNonBlocking(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s %s is not a regular file (%s): give a file holding the secret", what, path, fi.Mode().Type())
	}
	if m := fi.Mode().Perm(); m&deny != 0 {
		return nil, fmt.Errorf("%s %s is accessible by others (mode %#o): chmod 600 %s", what, path, m, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s %s is over %d bytes: it should hold one secret", what, path, limit)
	}
	return b, nil
}

// Bounds of an HTTP token (--http-token-file).
const (
	minToken     = 16
	maxTokenFile = 4 << 10
)

// readTokenFile reads the HTTP API's token: the file's content without
// the white space around it, 16 or more visible ASCII characters (it
// travels in a header). The file must be a regular file of at most 4 KB
// that neither group nor others may access.
func readTokenFile(path string) ([]byte, error) {
	b, err := readSecretFile("token file", path, 0o077, maxTokenFile)
	if err != nil {
		return nil, err
	}
	tok := bytes.TrimSpace(b)
	if len(tok) < minToken || bytes.ContainsFunc(tok, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return nil, fmt.Errorf("token file %s: want one token of at least %d visible ASCII characters (make one with `umask 077; head -c32 /dev/urandom | base64 > %s`)", path, minToken, path)
	}
	return tok, nil
}
