package scan

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// sock is the socket a scanner or client owns; embedding it gives the
// owner an idempotent Close.
type sock struct {
	conn      net.PacketConn
	closeOnce sync.Once
	closeErr  error
}

// Close closes the connection. It is safe to call more than once.
func (s *sock) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.conn.Close() })
	return s.closeErr
}

// dialUDP opens a UDP socket of network ("udp", "udp4") on an ephemeral
// port and returns the client newClient makes of it; what names the
// protocol in the error.
func dialUDP[C any](network, what string, newClient func(net.PacketConn) C) (C, error) {
	conn, err := net.ListenPacket(network, ":0")
	if err != nil {
		var zero C
		return zero, fmt.Errorf("scan: %s: %w", what, err)
	}
	return newClient(conn), nil
}

// stopReader ends the goroutine reading s.conn for a Sweep or Browse: it
// closes stop, unblocks the read, waits for done and clears the read
// deadline, so the conn can be used again. When the deadline cannot be set
// the reader stays blocked until Close; it owns nothing else.
func (s *sock) stopReader(stop chan<- struct{}, done <-chan struct{}, log *slog.Logger, proto string) {
	close(stop)
	if err := s.conn.SetReadDeadline(time.Unix(1, 0)); err != nil {
		log.Debug(proto+": cannot unblock reader", "err", err)
		return
	}
	<-done
	_ = s.conn.SetReadDeadline(time.Time{})
}

// readTo reads datagrams of up to size bytes from s.conn until stop is
// closed (then it returns nil) or reading fails, and sends to out what
// decode makes of each; decode reports false for one to skip.
func readTo[T any](s *sock, size int, stop <-chan struct{}, out chan<- T, decode func(b []byte, from net.Addr) (T, bool)) error {
	buf := make([]byte, size)
	for {
		n, from, err := s.conn.ReadFrom(buf)
		select {
		case <-stop:
			return nil
		default:
		}
		if err != nil {
			return err
		}
		v, ok := decode(buf[:n], from)
		if !ok {
			continue
		}
		select {
		case out <- v:
		case <-stop:
			return nil
		}
	}
}

// dialDo opens a client with dial, runs do on it and closes it: the body
// of the package's one-call functions (SweepARP, BrowseMDNS, ...).
func dialDo[C io.Closer, R any](dial func() (C, error), do func(C) (R, error)) (R, error) {
	c, err := dial()
	if err != nil {
		var zero R
		return zero, err
	}
	defer c.Close()
	return do(c)
}

// orDiscard returns log, or a logger that discards when log is nil.
func orDiscard(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return log
}
