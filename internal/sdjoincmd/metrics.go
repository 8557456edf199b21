package sdjoincmd

import (
	"maps"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ipfinder-go/ipfinder/internal/check"
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

// agentMetrics are the agent's Prometheus metrics, on a registry of its
// own. Counters bumped on a hot path are atomics (tracker.Stats,
// eventCounts, hub.lost, check.Runner.Results) read at scrape time by
// stateCollector; the request counters are Prometheus vectors.
type agentMetrics struct {
	reg      *prometheus.Registry
	events   *eventCounts
	control  *prometheus.CounterVec   // op
	httpReqs *prometheus.CounterVec   // route, code
	httpTime *prometheus.HistogramVec // route
	// Event streams of the HTTP API (/v1/events), read from http (nil
	// until --http serves).
	http           atomic.Pointer[httpServer]
	streams        prometheus.GaugeFunc
	streamsDropped prometheus.CounterFunc
}

func newAgentMetrics(c *core, h *hub) *agentMetrics {
	events := &eventCounts{}
	h.register("", func(replay int) handler { events.replay = replay; return events })
	m := &agentMetrics{
		reg:    prometheus.NewRegistry(),
		events: events,
		control: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sdjoin_control_requests_total",
			Help: "Control socket requests, by op (invalid: could not be decoded).",
		}, []string{"op"}),
		httpReqs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sdjoin_http_requests_total",
			Help: "HTTP requests, by route and status code.",
		}, []string{"route", "code"}),
		httpTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sdjoin_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request (an event stream: its whole life), by route.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"route"}),
	}
	m.streams = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "sdjoin_http_event_streams",
		Help: "HTTP event streams (/v1/events) open.",
	}, func() float64 {
		if s := m.http.Load(); s != nil {
			return float64(len(s.streams))
		}
		return 0
	})
	m.streamsDropped = prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "sdjoin_http_event_streams_dropped_total",
		Help: "HTTP event streams dropped for falling behind or blocking a write.",
	}, func() float64 {
		if s := m.http.Load(); s != nil {
			return float64(s.dropped.Load())
		}
		return 0
	})
	for _, op := range []string{opList, opLocal, opMembers, opPick, opTrack, opUntrack, opWatch, opSession, opInvalid} {
		m.control.WithLabelValues(op) // listed from the start, at 0
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		buildInfo(),
		m.control, m.httpReqs, m.httpTime, m.streams, m.streamsDropped,
		newStateCollector(c, h, events),
	)
	return m
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
// format (GET /metrics).
func (a *agent) metricsHandler() http.Handler {
	return promhttp.HandlerFor(a.metrics.reg, promhttp.HandlerOpts{
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: maxScrapes,
	})
}

// instrumentHTTP counts the requests h answers and times them, under
// route: the route's pattern ("/v1/services/{name}"), never the request's
// path, which would make a time series per URL.
func (a *agent) instrumentHTTP(route string, h http.Handler) http.Handler {
	l := prometheus.Labels{"route": route}
	return promhttp.InstrumentHandlerDuration(a.metrics.httpTime.MustCurryWith(l),
		promhttp.InstrumentHandlerCounter(a.metrics.httpReqs.MustCurryWith(l), h))
}

// buildInfo is the constant sdjoin_build_info gauge.
func buildInfo() prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "sdjoin_build_info",
		Help:        "Always 1: the labels tell the sdjoin version (as --version) and the Go version it was built with.",
		ConstLabels: prometheus.Labels{"version": version.String(), "goversion": runtime.Version()},
	})
	g.Set(1)
	return g
}

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

	members, entries, local, checks *prometheus.Desc
	joins, leaves, renames          *prometheus.Desc
	memberJoins, memberLeaves       *prometheus.Desc
	hubDropped, checkResults        *prometheus.Desc
	sentBytes, recvBytes            *prometheus.Desc
	sentMsgs, recvMsgs              *prometheus.Desc
	pushPulls, gossipDropped        *prometheus.Desc
}

func newStateCollector(c *core, h *hub, events *eventCounts) *stateCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &stateCollector{
		c: c, h: h, events: events, services: newServiceLabels(maxServiceLabels),
		members:       d("sdjoin_members", "Live members of the cluster, this node included, by state.", "state"),
		entries:       d("sdjoin_entries", "Entries visible here, by service (past 1000 services, the rest are _other).", "service"),
		local:         d("sdjoin_local_entries", "Entries this node tracks, those withdrawn by failing checks included."),
		checks:        d("sdjoin_checks", "Checks of this node's entries, by state.", "state"),
		joins:         d("sdjoin_joins_total", "Entries that joined (events)."),
		leaves:        d("sdjoin_leaves_total", "Entries that left (events)."),
		renames:       d("sdjoin_renames_total", "Nodes renamed with their entries (events)."),
		memberJoins:   d("sdjoin_member_joins_total", "Nodes that joined the cluster (events)."),
		memberLeaves:  d("sdjoin_member_leaves_total", "Nodes that left the cluster (events)."),
		hubDropped:    d("sdjoin_hub_dropped_events_total", "Events dropped for a consumer that fell behind (a watch client, stdout)."),
		checkResults:  d("sdjoin_check_results_total", "Check runs, by the state they left the check in.", "result"),
		sentBytes:     d("sdjoin_gossip_sent_bytes_total", "Gossip bytes sent: UDP packets and TCP streams."),
		recvBytes:     d("sdjoin_gossip_received_bytes_total", "Gossip bytes received: UDP packets and TCP streams."),
		sentMsgs:      d("sdjoin_gossip_sent_messages_total", "Gossip UDP packets sent and TCP streams opened."),
		recvMsgs:      d("sdjoin_gossip_received_messages_total", "Gossip UDP packets received and TCP streams accepted."),
		pushPulls:     d("sdjoin_pushpull_total", "Full state exchanges with a peer (joins and periodic push/pull)."),
		gossipDropped: d("sdjoin_gossip_dropped_messages_total", "Gossiped changes dropped unread: oversized, over the inbox's bounds, or from a non-member."),
	}
}

// Describe implements prometheus.Collector.
func (s *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{s.members, s.entries, s.local, s.checks,
		s.joins, s.leaves, s.renames, s.memberJoins, s.memberLeaves, s.hubDropped, s.checkResults,
		s.sentBytes, s.recvBytes, s.sentMsgs, s.recvMsgs, s.pushPulls, s.gossipDropped} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (s *stateCollector) Collect(ch chan<- prometheus.Metric) {
	s.collectState(ch)
	s.collectEvents(ch)
	s.collectGossip(ch)
}

func gauge(d *prometheus.Desc, v int, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
}

func counter(d *prometheus.Desc, v uint64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
}

// collectState sends the gauges: members, entries, checks.
func (s *stateCollector) collectState(ch chan<- prometheus.Metric) {
	states := map[string]int{tracker.MemberAlive.String(): 0} // 0 offline
	for _, m := range s.c.members() {
		states[m.State.String()]++
	}
	for _, st := range slices.Sorted(maps.Keys(states)) {
		ch <- gauge(s.members, states[st], st)
	}
	for svc, n := range s.services.fold(s.h.serviceCounts()) {
		ch <- gauge(s.entries, n, svc)
	}
	ch <- gauge(s.local, s.c.localCount())
	checks := map[check.State]int{}
	for _, st := range s.c.checks.List() {
		for _, cs := range st.Checks {
			checks[cs.State]++
		}
	}
	for _, st := range checkStates {
		ch <- gauge(s.checks, checks[st], st.String())
		ch <- counter(s.checkResults, s.c.checks.Results(st), st.String())
	}
}

// collectEvents sends the event counters of the hub.
func (s *stateCollector) collectEvents(ch chan<- prometheus.Metric) {
	e := s.events
	ch <- counter(s.joins, e.joins.Load())
	ch <- counter(s.leaves, e.leaves.Load())
	ch <- counter(s.renames, e.renames.Load())
	ch <- counter(s.memberJoins, e.memberJoins.Load())
	ch <- counter(s.memberLeaves, e.memberLeaves.Load())
	ch <- counter(s.hubDropped, s.h.lost.Load())
}

// collectGossip sends the gossip counters of the trackers.
func (s *stateCollector) collectGossip(ch chan<- prometheus.Metric) {
	g := s.c.gossipStats()
	ch <- counter(s.sentBytes, g.SentBytes)
	ch <- counter(s.recvBytes, g.ReceivedBytes)
	ch <- counter(s.sentMsgs, g.SentMessages)
	ch <- counter(s.recvMsgs, g.ReceivedMessages)
	ch <- counter(s.pushPulls, g.PushPulls)
	ch <- counter(s.gossipDropped, g.DroppedMessages)
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
