package sdjoincmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"
)

// events answers GET /v1/events[?service=NAME]: a Server-Sent Events
// stream of watch --json's records, one "data:" line each, starting with
// the current state as joins, with ": ping" comments in between. It ends
// when the client goes away, falls sseBacklog events behind or does not
// take a write within writeWait (dropped and counted: it reconnects and
// gets the state again), or the agent stops.
func (s *httpServer) events(w http.ResponseWriter, r *http.Request) {
	service := r.URL.Query().Get("service")
	if service != "" {
		if err := checkService(service); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	select {
	case s.streams <- struct{}{}:
		defer func() { <-s.streams }()
	default:
		w.Header().Set("Connection", "close")
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("agent busy: %d event streams open; retry later", maxSSEClients))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	if r.Method == http.MethodHead {
		return
	}
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Time{}) // the request is read; the stream lasts
	q := &sseQueue{wake: make(chan struct{}, 1)}
	unregister := s.hub.register(service, func(replay int) handler {
		q.max = replay + sseBacklog
		return q
	})
	defer unregister()
	s.stream(w, rc, r, q)
}

// stream writes the events of q to w until the client goes away or
// falls behind, or the agent stops. Each write may take s.writeWait.
func (s *httpServer) stream(w http.ResponseWriter, rc *http.ResponseController, r *http.Request, q *sseQueue) {
	w.WriteHeader(http.StatusOK)
	rc.SetWriteDeadline(time.Now().Add(s.writeWait))
	if rc.Flush() != nil { // the header now, even with nothing to replay
		return
	}
	ping := time.NewTicker(s.keepalive)
	defer ping.Stop()
	for {
		comment := ""
		select {
		case <-r.Context().Done():
			return
		case <-s.stop:
			return
		case <-ping.C:
			comment = ": ping\n\n"
		case <-q.wake:
		}
		rs, over := q.take()
		if over {
			comment = fmt.Sprintf(": fell %d events behind: reconnect\n\n", sseBacklog)
		}
		rc.SetWriteDeadline(time.Now().Add(s.writeWait))
		err := writeEvents(w, comment, rs)
		if err == nil {
			err = rc.Flush()
		}
		if over || errors.Is(err, os.ErrDeadlineExceeded) {
			s.dropped.Add(1)
			s.log.Debug("event stream dropped: the client fell behind", "peer", r.RemoteAddr)
			return
		}
		if err != nil {
			return
		}
	}
}

// writeEvents writes comment (if any), then each record as one SSE
// message: "data: JSON\n\n". The JSON holds no line break
// (encoding/json escapes them, U+2028 and U+2029 too), so a record is
// one data line. Records go to w one by one (it buffers): a stream
// keeps no buffer the size of the state it replayed.
func writeEvents(w io.Writer, comment string, rs []record) error {
	if comment != "" {
		if _, err := io.WriteString(w, comment); err != nil {
			return err
		}
	}
	var line []byte
	for _, r := range rs {
		b, err := json.Marshal(r)
		if err != nil {
			continue
		}
		line = append(append(append(line[:0], "data: "...), escapeJSON(b)...), "\n\n"...)
		if _, err := w.Write(line); err != nil {
			return err
		}
	}
	return nil
}

// sseQueue queues an event stream's records without blocking the hub:
// at most max, then it overflows (the stream is dropped) and holds
// nothing more. Memory grows with what is queued, not with max.
type sseQueue struct {
	mu   sync.Mutex
	max  int // set by register's mk, before any handle
	recs []record
	over bool
	wake chan struct{} // capacity 1: something to take
}

func (q *sseQueue) handle(r record) {
	q.mu.Lock()
	switch {
	case q.over:
	case len(q.recs) >= q.max:
		q.over, q.recs = true, nil
	default:
		q.recs = append(q.recs, r)
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// take returns the queued records and whether the queue overflowed.
func (q *sseQueue) take() ([]record, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	rs := q.recs
	q.recs = nil
	return rs, q.over
}
