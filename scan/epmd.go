package scan

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// epmdPort is where the Erlang port mapper daemon listens.
const epmdPort = 4369

const (
	epmdTimeout  = 2 * time.Second // when ctx has no deadline
	maxEPMDReply = 64 << 10
	maxEPMDNames = 1024
)

// EPMDNames asks the Erlang port mapper daemon (epmd, TCP port 4369) on
// addr for the names of the Erlang nodes registered there: "app" for the
// node app@host. A host that refuses the connection runs no epmd and has
// no names (nil, nil); other failures, such as a timeout or a malformed
// reply, are errors. Without a deadline on ctx the exchange is limited to
// 2 s.
func EPMDNames(ctx context.Context, addr netip.Addr) ([]string, error) {
	return epmdNames(ctx, netip.AddrPortFrom(addr, epmdPort))
}

func epmdNames(ctx context.Context, ap netip.AddrPort) ([]string, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, epmdTimeout)
		defer cancel()
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", ap.String())
	if errors.Is(err, syscall.ECONNREFUSED) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("epmd %s: %w", ap, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	// EPMD_NAMES_REQ: a 2-byte length, then 'n'.
	if _, err := conn.Write([]byte{0, 1, 'n'}); err != nil {
		return nil, fmt.Errorf("epmd %s: %w", ap, epmdErr(ctx, err))
	}
	reply, err := io.ReadAll(io.LimitReader(conn, maxEPMDReply+1))
	if err != nil {
		return nil, fmt.Errorf("epmd %s: %w", ap, epmdErr(ctx, err))
	}
	if len(reply) > maxEPMDReply {
		return nil, fmt.Errorf("epmd %s: reply longer than %d bytes", ap, maxEPMDReply)
	}
	names, err := parseEPMDNames(reply)
	if err != nil {
		return nil, fmt.Errorf("epmd %s: %w", ap, err)
	}
	return names, nil
}

// epmdErr reports the context's error when it caused err.
func epmdErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// parseEPMDNames parses the reply to EPMD_NAMES_REQ: epmd's port as 4
// bytes, then one line per node, "name app at port 37655".
func parseEPMDNames(reply []byte) ([]string, error) {
	if len(reply) < 4 {
		return nil, fmt.Errorf("short names reply (%d bytes)", len(reply))
	}
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(reply[4:]))
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if text == "" {
			continue
		}
		name, err := parseEPMDLine(text)
		if err != nil {
			return nil, fmt.Errorf("names reply line %d: %w", line, err)
		}
		if len(names) >= maxEPMDNames {
			return nil, fmt.Errorf("names reply has more than %d nodes", maxEPMDNames)
		}
		names = append(names, name)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("names reply: %w", err)
	}
	return names, nil
}

func parseEPMDLine(line string) (string, error) {
	f := strings.Split(line, " ")
	if len(f) != 5 || f[0] != "name" || f[2] != "at" || f[3] != "port" {
		return "", fmt.Errorf("want %q, got %q", "name NAME at port PORT", line)
	}
	if port, err := strconv.ParseUint(f[4], 10, 16); err != nil || port == 0 {
		return "", fmt.Errorf("bad port %q", f[4])
	}
	name := f[1]
	if name == "" || len(name) > 255 {
		return "", fmt.Errorf("bad node name length %d", len(name))
	}
	for _, c := range []byte(name) {
		if c <= ' ' || c >= 0x7f || c == '@' {
			return "", fmt.Errorf("bad node name %q", name)
		}
	}
	return name, nil
}
