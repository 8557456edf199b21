package sdjoincmd

import (
	"cmp"
	"compress/gzip"
	"fmt"
	"io"
	"maps"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/check"
	"github.com/ipfinder-go/ipfinder/internal/promtext"
	"github.com/ipfinder-go/ipfinder/internal/version"
	"github.com/ipfinder-go/ipfinder/tracker"
)

// Bounds of the metrics.
const (
	// maxServiceLabels caps the values of the service label: service
	// names come from the network, and each value is a time series.
	maxServiceLabels = 1000
	// otherService is the label value of the services past the cap.
	otherService = "_other"
	// maxScrapes bounds the scrapes served at once.
	maxScrapes = 4
)

// agentMetrics are the agent's metrics. Everything is counted in atomics
// or read at scrape time under its owner's lock (tracker.Stats,
// eventCounts, hub.lost, check.Runner.Results, the HTTP server's
// streams), and written in the Prometheus text format by promtext.
type agentMetrics struct {
	events  *eventCounts
	control map[string]*atomic.Uint64 // by op, every op from the start
	httpReq *requestCounts
	state   *stateCollector
	scrapes chan struct{} // a slot per scrape being served
	// Event streams of the HTTP API (/v1/events), read from http (nil
	// until --http serves).
	http atomic.Pointer[httpServer]
}

// httpBuckets are the upper bounds (seconds) of the HTTP request
// duration histogram.
var httpBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10}

// controlOps are the op label values of control requests, in the order
// they are written.
var controlOps = []string{opList, opLocal, opMembers, opPick, opTrack, opUntrack, opWatch, opSession, opInvalid}

func newAgentMetrics(c *core, h *hub) *agentMetrics {
	events := &eventCounts{}
	h.register("", func(replay int) handler { events.replay = replay; return events })
	m := &agentMetrics{
		events:  events,
		control: make(map[string]*atomic.Uint64),
		httpReq: &requestCounts{routes: make(map[string]*routeCounts)},
		state:   newStateCollector(c, h, events),
		scrapes: make(chan struct{}, maxScrapes),
	}
	for _, op := range controlOps {
		m.control[op] = new(atomic.Uint64)
	}
	return m
}

// countControl counts a control request of op (as invalid if unknown).
func (m *agentMetrics) countControl(op string) {
	c := m.control[op]
	if c == nil {
		c = m.control[opInvalid]
	}
	c.Add(1)
}

// requestCounts counts HTTP requests by route and status code, and times
// them by route. Routes are the API's patterns.
type requestCounts struct {
	mu     sync.Mutex
	routes map[string]*routeCounts
}

type routeCounts struct {
	mu    sync.Mutex
	codes map[int]uint64
	time  *promtext.Histogram
}

// route returns the counts of route, made on first use.
func (r *requestCounts) route(route string) *routeCounts {
	r.mu.Lock()
	defer r.mu.Unlock()
	rc := r.routes[route]
	if rc == nil {
		rc = &routeCounts{codes: make(map[int]uint64), time: promtext.NewHistogram(httpBuckets)}
		r.routes[route] = rc
	}
	return rc
}

func (rc *routeCounts) count(code int) {
	rc.mu.Lock()
	rc.codes[code]++
	rc.mu.Unlock()
}

// eventCounts counts the hub's events by kind. Registered with the hub
// as a handler of every event, it counts them as watch shows them (a
// rename once, not once per service).
type eventCounts struct {
	replay                    int // events of the initial state, not counted
	joins, leaves, renames    atomic.Uint64
	memberJoins, memberLeaves atomic.Uint64
}

func (e *eventCounts) handle(r record) {
	if e.replay > 0 { // guarded by hub.mu, as handle is called with it held
		e.replay--
		return
	}
	switch r.Event {
	case evJoin:
		e.joins.Add(1)
	case evLeave:
		e.leaves.Add(1)
	case evRename:
		e.renames.Add(1)
	case evMemberJoin:
		e.memberJoins.Add(1)
	case evMemberLeave:
		e.memberLeaves.Add(1)
	}
}

// metricsHandler serves the agent's metrics in the Prometheus text
// format (GET /metrics), gzipped when the scraper accepts it, at most
// maxScrapes at once (the others get 503).
func (a *agent) metricsHandler() http.Handler {
	m := a.metrics
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case m.scrapes <- struct{}{}:
			defer func() { <-m.scrapes }()
		default:
			http.Error(w, fmt.Sprintf("%d scrapes already being served; retry later", maxScrapes), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", promtext.ContentType)
		var out io.Writer = w
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			defer zw.Close()
			out = zw
		}
		pw := promtext.NewWriter(out)
		m.write(pw)
		if err := pw.Flush(); err != nil {
			a.log.Debug("metrics: scrape", "err", err)
		}
	})
}

// write writes every metric.
func (m *agentMetrics) write(w *promtext.Writer) {
	m.state.write(w)
	w.Family("sdjoin_control_requests_total", promtext.TypeCounter, "Control socket requests, by op (invalid: could not be decoded).")
	for _, op := range controlOps {
		w.Count("sdjoin_control_requests_total", m.control[op].Load(), "op", op)
	}
	m.httpReq.write(w)
	var streams, dropped int64
	if s := m.http.Load(); s != nil {
		streams, dropped = int64(len(s.streams)), s.dropped.Load()
	}
	w.One("sdjoin_http_event_streams", promtext.TypeGauge, "HTTP event streams (/v1/events) open.", float64(streams))
	counter(w, "sdjoin_http_event_streams_dropped_total", "HTTP event streams dropped for falling behind or blocking a write.", uint64(dropped))
	w.Family("sdjoin_build_info", promtext.TypeGauge, "Always 1: the labels tell the sdjoin version (as --version) and the Go version it was built with.")
	w.Sample("sdjoin_build_info", 1, "version", version.String(), "goversion", runtime.Version())
	w.Runtime()
}

// write writes the request counts and durations, routes and codes
// sorted.
func (r *requestCounts) write(w *promtext.Writer) {
	r.mu.Lock()
	routes := maps.Clone(r.routes)
	r.mu.Unlock()
	names := slices.Sorted(maps.Keys(routes))
	w.Family("sdjoin_http_requests_total", promtext.TypeCounter, "HTTP requests, by route and status code.")
	for _, route := range names {
		rc := routes[route]
		rc.mu.Lock()
		codes := maps.Clone(rc.codes)
		rc.mu.Unlock()
		for _, code := range slices.Sorted(maps.Keys(codes)) {
			w.Count("sdjoin_http_requests_total", codes[code], "route", route, "code", strconv.Itoa(code))
		}
	}
	w.Family("sdjoin_http_request_duration_seconds", promtext.TypeHistogram, "Time to answer an HTTP request (an event stream: its whole life), by route.")
	for _, route := range names {
		w.Histogram("sdjoin_http_request_duration_seconds", routes[route].time, "route", route)
	}
}

// instrumentHTTP counts the requests h answers and times them, under
// route: the route's pattern ("/v1/services/{name}"), never the request's
// path, which would make a time series per URL.
func (a *agent) instrumentHTTP(route string, h http.Handler) http.Handler {
	rc := a.metrics.httpReq.route(route)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		rc.time.Observe(time.Since(start).Seconds())
		rc.count(cmp.Or(sw.code, http.StatusOK))
	})
}

// statusWriter notes the status code a handler answers with. Unwrap lets
// http.ResponseController reach the connection (an event stream
// flushes).
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Check states, as labels.
var checkStates = []check.State{check.Passing, check.Warning, check.Pending, check.Critical}

// stateCollector reads the agent's state and counters at scrape time,
// each through its owner's lock or atomics: the hub (entries, events),
// the core (members, local entries, gossip) and the check runner.
type stateCollector struct {
	c        *core
	h        *hub
	events   *eventCounts
	services *serviceLabels
}

func newStateCollector(c *core, h *hub, events *eventCounts) *stateCollector {
	return &stateCollector{c: c, h: h, events: events, services: newServiceLabels(maxServiceLabels)}
}

// counter writes a family of one count.
func counter(w *promtext.Writer, name, help string, v uint64) {
	w.Family(name, promtext.TypeCounter, help)
	w.Count(name, v)
}

func (s *stateCollector) write(w *promtext.Writer) {
	s.writeState(w)
	s.writeEvents(w)
	s.writeGossip(w)
}

// writeState writes the gauges (members, entries, checks) and the check
// results.
func (s *stateCollector) writeState(w *promtext.Writer) {
	states := map[string]int{tracker.MemberAlive.String(): 0} // 0 offline
	for _, m := range s.c.members() {
		states[m.State.String()]++
	}
	w.Family("sdjoin_members", promtext.TypeGauge, "Live members of the cluster, this node included, by state.")
	for _, st := range slices.Sorted(maps.Keys(states)) {
		w.Sample("sdjoin_members", float64(states[st]), "state", st)
	}
	entries := s.services.fold(s.h.serviceCounts())
	w.Family("sdjoin_entries", promtext.TypeGauge, "Entries visible here, by service (past 1000 services, the rest are _other).")
	for _, svc := range slices.Sorted(maps.Keys(entries)) {
		w.Sample("sdjoin_entries", float64(entries[svc]), "service", svc)
	}
	w.One("sdjoin_local_entries", promtext.TypeGauge, "Entries this node tracks, those withdrawn by failing checks included.", float64(s.c.localCount()))
	checks := map[check.State]int{}
	for _, st := range s.c.checks.List() {
		for _, cs := range st.Checks {
			checks[cs.State]++
		}
	}
	w.Family("sdjoin_checks", promtext.TypeGauge, "Checks of this node's entries, by state.")
	for _, st := range checkStates {
		w.Sample("sdjoin_checks", float64(checks[st]), "state", st.String())
	}
	w.Family("sdjoin_check_results_total", promtext.TypeCounter, "Check runs, by the state they left the check in.")
	for _, st := range checkStates {
		w.Count("sdjoin_check_results_total", s.c.checks.Results(st), "result", st.String())
	}
}

// writeEvents writes the event counters of the hub.
func (s *stateCollector) writeEvents(w *promtext.Writer) {
	e := s.events
	counter(w, "sdjoin_joins_total", "Entries that joined (events).", e.joins.Load())
	counter(w, "sdjoin_leaves_total", "Entries that left (events).", e.leaves.Load())
	counter(w, "sdjoin_renames_total", "Nodes renamed with their entries (events).", e.renames.Load())
	counter(w, "sdjoin_member_joins_total", "Nodes that joined the cluster (events).", e.memberJoins.Load())
	counter(w, "sdjoin_member_leaves_total", "Nodes that left the cluster (events).", e.memberLeaves.Load())
	counter(w, "sdjoin_hub_dropped_events_total", "Events dropped for a consumer that fell behind (a watch client, stdout).", s.h.lost.Load())
}

// writeGossip writes the gossip counters of the trackers.
func (s *stateCollector) writeGossip(w *promtext.Writer) {
	g := s.c.gossipStats()
	counter(w, "sdjoin_gossip_sent_bytes_total", "Gossip bytes sent: UDP packets and TCP streams.", g.SentBytes)
	counter(w, "sdjoin_gossip_received_bytes_total", "Gossip bytes received: UDP packets and TCP streams.", g.ReceivedBytes)
	counter(w, "sdjoin_gossip_sent_messages_total", "Gossip UDP packets sent and TCP streams opened.", g.SentMessages)
	counter(w, "sdjoin_gossip_received_messages_total", "Gossip UDP packets received and TCP streams accepted.", g.ReceivedMessages)
	counter(w, "sdjoin_pushpull_total", "Full state exchanges with a peer (joins and periodic push/pull).", g.PushPulls)
	counter(w, "sdjoin_gossip_dropped_messages_total", "Gossiped changes dropped unread: oversized, over the inbox's bounds, or from a non-member.", g.DroppedMessages)
}

// serviceLabels caps the values of the service label at limit: a service
// gets its own value at the first scrape that sees it with a slot free,
// and keeps it while it has entries; the others share otherService. A
// flood of new names then cannot push out the services already graphed.
type serviceLabels struct {
	limit int
	mu    sync.Mutex
	named map[string]bool
}

// validUTF8 returns counts with the names that are not UTF-8 (a label
// value must be; a peer may send any bytes) spelled with U+FFFD for
// their bad bytes, merged with any name they then equal.
func validUTF8(counts map[string]int) map[string]int {
	out := make(map[string]int, len(counts))
	for name, n := range counts {
		out[strings.ToValidUTF8(name, "\uFFFD")] += n
	}
	return out
}

func newServiceLabels(limit int) *serviceLabels {
	return &serviceLabels{limit: limit, named: map[string]bool{}}
}

// fold returns the counts by label value.
func (l *serviceLabels) fold(counts map[string]int) map[string]int {
	counts = validUTF8(counts)
	l.mu.Lock()
	defer l.mu.Unlock()
	for svc := range l.named {
		if counts[svc] == 0 {
			delete(l.named, svc)
		}
	}
	out := make(map[string]int, min(len(counts), l.limit+1))
	for _, svc := range slices.Sorted(maps.Keys(counts)) {
		if !l.named[svc] && len(l.named) < l.limit && svc != otherService {
			l.named[svc] = true
		}
		if l.named[svc] {
			out[svc] += counts[svc]
		} else {
			out[otherService] += counts[svc]
		}
	}
	return out
}
