package tracker

import (
	"net"
	"sync/atomic"
)

// Stats are a tracker's counters since New. Each only grows.
type Stats struct {
	// SentBytes and ReceivedBytes count gossip as it crosses the wire
	// (labelled and encrypted): UDP packets and TCP stream data.
	SentBytes, ReceivedBytes uint64
	// SentMessages and ReceivedMessages count UDP packets, and TCP
	// streams opened (sent) or accepted (received).
	SentMessages, ReceivedMessages uint64
	// PushPulls counts full state exchanges with a peer (joins and
	// periodic push/pull): remote states merged.
	PushPulls uint64
	// DroppedMessages counts tracker messages dropped unread: empty or
	// oversized, over the inbox's bounds, or a change from a node that is
	// not a member.
	DroppedMessages uint64
}

// stats are the live counters behind Stats; the hot path adds to them
// atomically.
type stats struct {
	sentBytes, receivedBytes       atomic.Uint64
	sentMessages, receivedMessages atomic.Uint64
	pushPulls                      atomic.Uint64
	dropped                        atomic.Uint64
}

// Stats returns the tracker's counters. It is cheap and never blocks.
func (t *Tracker) Stats() Stats {
	s := &t.stats
	return Stats{
		SentBytes:        s.sentBytes.Load(),
		ReceivedBytes:    s.receivedBytes.Load(),
		SentMessages:     s.sentMessages.Load(),
		ReceivedMessages: s.receivedMessages.Load(),
		PushPulls:        s.pushPulls.Load(),
		DroppedMessages:  s.dropped.Load(),
	}
}

func (s *stats) sent(n int) {
	s.sentMessages.Add(1)
	s.sentBytes.Add(uint64(n))
}

func (s *stats) received(n int) {
	s.receivedMessages.Add(1)
	s.receivedBytes.Add(uint64(n))
}

// countedConn counts a gossip stream's bytes in s.
type countedConn struct {
	net.Conn
	s *stats
}

func (c countedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.s.receivedBytes.Add(uint64(n))
	return n, err
}

func (c countedConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.s.sentBytes.Add(uint64(n))
	return n, err
}
