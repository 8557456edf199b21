package sdjoincmd

import (
	"bytes"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// printer writes every event it gets to w (the agent's stdout, through an
// asyncWriter so it never blocks), as text or JSON lines.
type printer struct {
	w    *asyncWriter
	json bool
}

func (p *printer) handle(r record) { writeRecord(p.w, r, p.json) }

// asyncWriter writes to w from a goroutine of its own, so that a reader
// that stops reading the agent's stdout or stderr (a paused pipe, Ctrl-S)
// never blocks the agent. It holds up to cap(lines) writes; beyond that,
// and after Close, it drops them and reports how many through dropped.
type asyncWriter struct {
	w       io.Writer
	mu      sync.Mutex // guards closing lines
	closed  bool
	lines   chan []byte
	done    chan struct{}
	lost    atomic.Int64
	dropped func(n int64)
}

func newAsyncWriter(w io.Writer, depth int, dropped func(n int64)) *asyncWriter {
	a := &asyncWriter{w: w, lines: make(chan []byte, depth), done: make(chan struct{}), dropped: dropped}
	go func() {
		defer close(a.done)
		for p := range a.lines {
			if n := a.lost.Swap(0); n > 0 {
				a.dropped(n)
			}
			a.w.Write(p)
		}
		if n := a.lost.Swap(0); n > 0 {
			a.dropped(n)
		}
	}()
	return a
}

// Write queues a copy of p; it never blocks.
func (a *asyncWriter) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return len(p), nil
	}
	select {
	case a.lines <- bytes.Clone(p):
	default:
		a.lost.Add(1)
	}
	return len(p), nil
}

// Close stops accepting writes and waits up to timeout for the queued
// ones to be written. It reports whether they were; if not, the writing
// goroutine is left blocked on w (the process is about to exit). Close is
// idempotent.
func (a *asyncWriter) Close(timeout time.Duration) bool {
	a.mu.Lock()
	if !a.closed {
		a.closed = true
		close(a.lines)
	}
	a.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-a.done:
		return true
	case <-t.C:
		return false
	}
}
