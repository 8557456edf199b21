package scan

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// exchangeTiming paces the unicast queries of one exchange.
type exchangeTiming struct {
	timeout time.Duration // how long a query has to be answered, from its first send
	resend  time.Duration // when a query still unanswered is sent once more
	rate    rate.Limit    // first sends per second
	burst   int           // first sends that go out at once
}

// unicastTiming is the timing of a NetBIOS or reverse DNS exchange: timeout
// (def when zero), resend, and the shared pacing.
func unicastTiming(timeout, def, resend time.Duration) exchangeTiming {
	return exchangeTiming{timeout: cmp.Or(timeout, def), resend: resend, rate: unicastRate, burst: unicastBurst}
}

// Pacing shared by the NetBIOS and reverse DNS queries: the queries for a
// /24's hosts go out at once, larger lists at 1000 per second.
const (
	unicastRate  = 1000
	unicastBurst = 256
	maxDatagram  = 1500 // answers larger than this are cut and rejected
)

// exchange asks n questions over conn, one UDP query each, and hands every
// datagram that arrives to recv, which returns the index of the question
// it answers (ok false for anything else). send(i, try) writes question
// i's query; try is 0, then 1 for the one resend to questions still
// unanswered after t.resend. exchange returns when every question was
// answered, or t.timeout after the last first send, or when ctx ends
// (returning ctx.Err()). It fails when not one first send succeeded or
// reading fails; other send errors are logged. It changes conn's read
// deadline and clears it before it returns.
func exchange(ctx context.Context, conn net.PacketConn, n int, t exchangeTiming, log *slog.Logger,
	send func(i, try int) error, recv func(src net.Addr, b []byte) (i int, ok bool)) error {
	if n == 0 {
		return ctx.Err()
	}
	answered := make([]bool, n) // owned by the reading goroutine, the caller's
	var mu sync.Mutex           // guards answered for the sender's resends
	stop := make(chan struct{})
	sendErr := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sendErr <- sendAll(ctx, conn, n, t, log, stop, send, func(i int) bool {
			mu.Lock()
			defer mu.Unlock()
			return answered[i]
		})
	}()
	unblocked := make(chan struct{})
	unblock := context.AfterFunc(ctx, func() {
		defer close(unblocked)
		_ = conn.SetReadDeadline(time.Unix(1, 0))
	})
	err := readAnswers(conn, n, func(src net.Addr, b []byte) bool {
		i, ok := recv(src, b)
		if !ok || i < 0 || i >= n {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		first := !answered[i]
		answered[i] = true
		return first
	})
	close(stop)
	wg.Wait()
	if !unblock() {
		<-unblocked // it ran or runs: let it finish before the deadline is cleared
	}
	_ = conn.SetReadDeadline(time.Time{})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if serr := <-sendErr; serr != nil {
		return serr
	}
	return err
}

// sendAll sends every first query, paced, then sets conn's read deadline to
// t.timeout after the last one, and resends to the silent questions at
// t.resend. It returns an error only when no first send succeeded; then it
// ends the read at once.
func sendAll(ctx context.Context, conn net.PacketConn, n int, t exchangeTiming, log *slog.Logger, stop <-chan struct{},
	send func(i, try int) error, done func(i int) bool) error {
	lim := rate.NewLimiter(t.rate, t.burst)
	var sent int
	var lastErr error
	var last time.Time
	for i := range n {
		if d := lim.Reserve().Delay(); d > 0 && !wait(stop, d) {
			return nil
		}
		if err := send(i, 0); err != nil {
			log.Debug("send", "err", err)
			lastErr = err
			continue
		}
		sent++
		last = time.Now()
	}
	if sent == 0 {
		_ = conn.SetReadDeadline(time.Unix(1, 0))
		return fmt.Errorf("every send failed: %w", lastErr)
	}
	_ = conn.SetReadDeadline(last.Add(t.timeout))
	if ctx.Err() != nil { // ended while the deadline was set: end the read now
		_ = conn.SetReadDeadline(time.Unix(1, 0))
		return nil
	}
	if !wait(stop, time.Until(last.Add(t.resend))) {
		return nil
	}
	for i := range n {
		if !done(i) {
			if err := send(i, 1); err != nil {
				log.Debug("resend", "err", err)
			}
		}
	}
	return nil
}

// exchangeErr is err from exchange, wrapped with what was asked ("scan:
// netbios"), unless it is nil or ctx's own error.
func exchangeErr(ctx context.Context, err error, what string) error {
	if err == nil || errors.Is(err, ctx.Err()) {
		return err
	}
	return fmt.Errorf("%s: %w", what, err)
}

// wait waits d, and reports false if stop was closed first.
func wait(stop <-chan struct{}, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-stop:
		return false
	}
}

// readAnswers reads datagrams until n of them were first answers (accept
// returns true) or the read deadline passes.
func readAnswers(conn net.PacketConn, n int, accept func(src net.Addr, b []byte) bool) error {
	buf := make([]byte, maxDatagram+1)
	for got := 0; got < n; {
		m, src, err := conn.ReadFrom(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if m > maxDatagram {
			continue
		}
		if accept(src, buf[:m]) {
			got++
		}
	}
	return nil
}
