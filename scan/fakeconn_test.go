package scan

import (
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// fakeReader is the read side of a fake net.PacketConn: what the wire
// delivers arrives on in, reads honour the read deadline (a change wakes a
// blocked read), and Close ends them.
type fakeReader[T any] struct {
	in        chan T
	close     chan struct{}
	closeOnce sync.Once

	mu       sync.Mutex
	deadline time.Time
	changed  chan struct{} // closed and replaced by SetReadDeadline and fail
	err      error         // reads fail with it
}

func newFakeReader[T any](size int) *fakeReader[T] {
	return &fakeReader[T]{in: make(chan T, size), close: make(chan struct{}), changed: make(chan struct{})}
}

// read returns the next value from the wire, or an error once the read
// deadline passed, the conn is closed or fail was called.
func (r *fakeReader[T]) read() (T, error) {
	var zero T
	for {
		r.mu.Lock()
		deadline, changed, err := r.deadline, r.changed, r.err
		r.mu.Unlock()
		if err != nil {
			return zero, err
		}
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			return zero, os.ErrDeadlineExceeded
		}
		var expire <-chan time.Time
		if !deadline.IsZero() {
			t := time.NewTimer(time.Until(deadline))
			expire = t.C
			defer t.Stop() // at most one per deadline change
		}
		select {
		case v := <-r.in:
			return v, nil
		case <-expire:
		case <-changed:
		case <-r.close:
			return zero, net.ErrClosed
		}
	}
}

// fail makes reads fail with err from now on.
func (r *fakeReader[T]) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err = err
	close(r.changed)
	r.changed = make(chan struct{})
}

func (r *fakeReader[T]) Close() error {
	r.closeOnce.Do(func() { close(r.close) })
	return nil
}

func (r *fakeReader[T]) SetDeadline(t time.Time) error    { return r.SetReadDeadline(t) }
func (r *fakeReader[T]) SetWriteDeadline(time.Time) error { return nil }
func (r *fakeReader[T]) SetReadDeadline(t time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deadline = t
	close(r.changed)
	r.changed = make(chan struct{})
	return nil
}

// loopbackUDP opens a UDP socket on 127.0.0.1, closed when the test ends.
func loopbackUDP(t testing.TB) net.PacketConn {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
