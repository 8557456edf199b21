package sdjoincmd

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/cliutil"
	"github.com/ipfinder-go/ipfinder/tracker"
)

// controlServer is the control socket's front-end: it translates each
// request into a call of the agent core, and a watch into a handler
// registered with the hub. It holds no state of its own.
type controlServer struct {
	core *core
	hub  *hub
	warn func(format string, args ...any)
	log  *slog.Logger
	// count counts one request by op ("invalid" for a bad one); nil
	// counts nothing.
	count func(op string)
	wg    sync.WaitGroup // serve and the connection handlers
}

// serve answers control connections until ln is closed; handlers end
// when ctx is done. A failed Accept (out of file descriptors under a
// connection flood) is retried after a growing pause, as net/http does;
// beyond maxConns connections at once, a new one is told to retry.
func (s *controlServer) serve(ctx context.Context, ln net.Listener) {
	defer s.wg.Done()
	slots := make(chan struct{}, maxConns)
	var pause time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if isClosedConn(err) || ctx.Err() != nil {
				return
			}
			pause = acceptPause(pause)
			if pause == minAcceptPause {
				s.warn("warning: control socket: %v; retrying", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(pause):
			}
			continue
		}
		pause = 0
		select {
		case slots <- struct{}{}:
		default:
			refuseBusy(c)
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-slots }()
			s.handle(ctx, c)
		}()
	}
}

// Bounds of the accept loop.
const (
	maxConns       = 128 // control connections served at once
	minAcceptPause = 5 * time.Millisecond
	maxAcceptPause = time.Second
)

// acceptPause returns the pause after a failed Accept: doubling from
// minAcceptPause up to maxAcceptPause.
func acceptPause(last time.Duration) time.Duration {
	return min(max(2*last, minAcceptPause), maxAcceptPause)
}

// refuseBusy answers a connection over maxConns with an error and closes
// it.
func refuseBusy(c net.Conn) {
	b, _ := json.Marshal(reply{Error: fmt.Sprintf("agent busy: %d control connections open; retry later", maxConns), Code: cliutil.ExitFailure})
	c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	c.Write(append(b, '\n'))
	c.Close()
}

// handle answers one connection: one request, one reply (or a stream).
func (s *controlServer) handle(ctx context.Context, c net.Conn) {
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	c.SetReadDeadline(time.Now().Add(requestTimeout))
	br := bufio.NewReader(io.LimitReader(c, maxRequest))
	line, err := br.ReadBytes('\n')
	if err != nil && (len(line) == 0 || !errors.Is(err, io.EOF)) {
		s.log.Debug("control read", "err", err)
		return
	}
	c.SetReadDeadline(time.Time{})
	req, err := decodeRequest(line)
	if err != nil {
		s.countOp(opInvalid)
		writeReply(c, errReply(err))
		return
	}
	s.countOp(req.Op)
	switch req.Op {
	case opWatch:
		s.watch(ctx, c, req.Service)
		return
	case opSession:
		s.session(c, req.specs)
		return
	}
	writeReply(c, s.answer(req))
}

// opInvalid labels the requests that could not be decoded.
const opInvalid = "invalid"

func (s *controlServer) countOp(op string) {
	if s.count != nil {
		s.count(op)
	}
}

// answer runs a request other than watch.
func (s *controlServer) answer(req request) reply {
	switch req.Op {
	case opList:
		var r reply
		for _, p := range s.core.list(req.Service) {
			r.Entries = append(r.Entries, entryRecord(p))
		}
		return r
	case opLocal:
		return reply{Entries: s.core.localEntries(req.Service)}
	case opMembers:
		var r reply
		for _, m := range s.core.members() {
			r.Members = append(r.Members, memberRecord(m))
		}
		return r
	case opPick:
		pol, _ := parsePolicy(req.Policy) // checked by decodeRequest
		p, err := s.core.pick(req.Service, pol)
		switch {
		case errors.Is(err, errOffline):
			return reply{Error: "no provider of " + req.Service + " (offline: no address)", Code: cliutil.ExitNotFound}
		case errors.Is(err, tracker.ErrNoProvider):
			return reply{Error: "no provider of " + req.Service, Code: cliutil.ExitNotFound}
		case err != nil:
			return errReply(err)
		}
		return reply{Entries: []record{entryRecord(p)}}
	case opTrack:
		err := s.core.track(entryID{req.Service, trackKey}, req.specs[0])
		if errors.Is(err, tracker.ErrMetaTooLarge) {
			err = cliutil.Usagef("%v: keep --meta under %d bytes", err, tracker.MaxMetaLen)
		}
		if err != nil {
			return errReply(err)
		}
		return reply{}
	case opUntrack:
		err := s.core.untrack(entryID{req.Service, trackKey})
		if errors.Is(err, errNotTracked) {
			return reply{Error: "not tracking " + req.Service, Code: cliutil.ExitNotFound}
		}
		if err != nil {
			return errReply(err)
		}
		return reply{}
	}
	return errReply(cliutil.Usagef("bad request: unknown op %q", req.Op))
}

// session tracks the entries of a session and holds them until the
// client closes the connection (or dies, or the agent stops: handle
// closes c), then untracks them. The client sends nothing more; whatever
// it sends is ignored.
func (s *controlServer) session(c net.Conn, specs []trackSpec) {
	key, err := s.core.openSession(specs)
	if err != nil {
		writeReply(c, errReply(err))
		return
	}
	defer s.core.closeSession(key, specs)
	if writeReply(c, reply{Key: key}) != nil {
		return
	}
	io.Copy(io.Discard, c)
}

// watch streams events to c until the client goes away, it falls behind,
// or the agent stops.
func (s *controlServer) watch(ctx context.Context, c net.Conn, service string) {
	var w *watcher
	unregister := s.hub.register(service, func(replay int) handler {
		w = &watcher{c: make(chan record, replay+watchBacklog), dropped: s.hub.dropped}
		return w
	})
	defer unregister()
	if writeReply(c, reply{}) != nil {
		return
	}
	gone := make(chan struct{}) // the client closed its side
	go func() {
		io.Copy(io.Discard, c)
		close(gone)
	}()
	defer func() { c.Close(); <-gone }()
	for {
		select {
		case <-ctx.Done():
			return
		case <-gone:
			return
		case r, ok := <-w.c:
			if !ok { // closed only when it fell behind
				writeReply(c, reply{Error: fmt.Sprintf("watch fell %d events behind: reconnect", watchBacklog), Code: cliutil.ExitFailure})
				return
			}
			if writeReply(c, r) != nil {
				return
			}
		}
	}
}

// watcher queues a watch client's events without blocking; a full queue
// ends it (its channel is closed), and the events it no longer takes are
// counted through dropped. Its fields are guarded by hub.mu.
type watcher struct {
	c       chan record
	ended   bool
	dropped func(n int64)
}

func (w *watcher) handle(r record) {
	if w.ended {
		w.dropped(1)
		return
	}
	select {
	case w.c <- r:
	default:
		w.ended = true
		close(w.c)
		w.dropped(1)
	}
}
