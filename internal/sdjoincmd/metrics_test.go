package sdjoincmd

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ipfinder-go/ipfinder/internal/check"
	"github.com/ipfinder-go/ipfinder/internal/lab"
	"github.com/ipfinder-go/ipfinder/tracker"
)

// metricsAgent is an agent built in-process with its metrics served over
// HTTP on loopback.
type metricsAgent struct {
	*agent
	sock string
	url  string
}

// startMetricsAgent runs an agent tracking tracks on 127.0.0.1:port with
// its metricsHandler on an httptest server.
func startMetricsAgent(t testing.TB, name string, port int, hostfile string, tracks ...trackSpec) *metricsAgent {
	t.Helper()
	opt := &agentOptions{
		name:      name,
		bind:      netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)),
		tracks:    tracks,
		hostfiles: []string{hostfile},
		socket:    filepath.Join(t.TempDir(), name+".sock"),
		retry:     150 * time.Millisecond,
		poll:      50 * time.Millisecond,
	}
	a := newAgent(opt, io.Discard, io.Discard)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.run(ctx) }()
	srv := httptest.NewServer(a.metricsHandler())
	t.Cleanup(func() {
		srv.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent %s: %v", name, err)
		}
	})
	// The control socket listens before the tracker is up.
	lab.Eventually(t, 5*time.Second, name+" control socket and gossip", func() error {
		if !answering(opt.socket) || len(a.members()) == 0 {
			return errNotYet
		}
		return nil
	})
	return &metricsAgent{agent: a, sock: opt.socket, url: srv.URL}
}

// scrape is one parsed scrape of an agent's metrics.
type scrape map[string]*dto.MetricFamily

// scrape GETs the agent's metrics and parses them with the Prometheus
// text parser.
func (m *metricsAgent) scrape(t *testing.T) scrape {
	t.Helper()
	resp, err := http.Get(m.url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("GET /metrics: content type %q", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse metrics: %v", err)
	}
	return fams
}

// value returns the value of the series of name with labels (name=value
// pairs), and whether there is one.
func (s scrape) value(name string, labels ...string) (float64, bool) {
	f := s[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.Metric {
		if hasLabels(m, labels) {
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue(), true
			case m.Gauge != nil:
				return m.Gauge.GetValue(), true
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount()), true
			}
		}
	}
	return 0, false
}

func hasLabels(m *dto.Metric, labels []string) bool {
	for _, l := range labels {
		k, v, _ := strings.Cut(l, "=")
		found := false
		for _, lp := range m.Label {
			found = found || lp.GetName() == k && lp.GetValue() == v
		}
		if !found {
			return false
		}
	}
	return true
}

// get is value that fails the test when the series is missing.
func (s scrape) get(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	v, ok := s.value(name, labels...)
	if !ok {
		t.Fatalf("no series %s%v", name, labels)
	}
	return v
}

// waitMetric scrapes m until the series of name with labels satisfies
// ok, and returns that scrape.
func waitMetric(t *testing.T, m *metricsAgent, what string, ok func(v float64) bool, name string, labels ...string) scrape {
	t.Helper()
	var s scrape
	waitFor(t, 10*time.Second, what, func() bool {
		s = m.scrape(t)
		v, found := s.value(name, labels...)
		return found && ok(v)
	})
	return s
}

func equals(want float64) func(float64) bool { return func(v float64) bool { return v == want } }

// TestMetricsCluster: the metrics of a real 3-agent cluster on loopback
// follow membership, entries, events, gossip and control requests, and
// pass the Prometheus linter.
func TestMetricsCluster(t *testing.T) {
	t.Parallel()
	ports := []int{freePort(t), freePort(t), freePort(t)}
	hosts := hostfileOf(t, ports...)
	a := startMetricsAgent(t, "a", ports[0], hosts)
	b := startMetricsAgent(t, "b", ports[1], hosts)
	startMetricsAgent(t, "c", ports[2], hosts)

	s := waitMetric(t, a, "3 alive members", equals(3), "sdjoin_members", "state=alive")
	if got := s.get(t, "sdjoin_member_joins_total"); got != 2 {
		t.Errorf("member joins %v, want 2", got)
	}
	before := s
	code, _, errs := runCLI(context.Background(), "track", "x", "--meta", "port=80", "--socket", b.sock)
	if code != 0 {
		t.Fatalf("track x on b: exit %d: %s", code, errs)
	}
	s = waitMetric(t, a, "entries of x on a", equals(1), "sdjoin_entries", "service=x")
	if got, was := s.get(t, "sdjoin_joins_total"), before.get(t, "sdjoin_joins_total"); got != was+1 {
		t.Errorf("joins_total %v after one join, was %v", got, was)
	}
	// a received the join; what it sends (probes, acks, gossip) comes on
	// its own schedule, so each counter is waited for.
	for _, name := range []string{"sdjoin_gossip_sent_bytes_total", "sdjoin_gossip_received_bytes_total",
		"sdjoin_gossip_sent_messages_total", "sdjoin_gossip_received_messages_total"} {
		was := before.get(t, name)
		waitMetric(t, a, name+" growing", func(v float64) bool { return v > was }, name)
	}
	if got := s.get(t, "sdjoin_pushpull_total"); got < 1 {
		t.Errorf("no push/pull counted after joining: %v", got)
	}
	code, out, errs := runCLI(context.Background(), "members", "--json", "--socket", a.sock)
	if code != 0 {
		t.Fatalf("members on a: exit %d: %s", code, errs)
	}
	for _, r := range decodeLines(t, out) {
		if r.State != "alive" {
			t.Errorf("member %s: state %q, want alive", r.Node, r.State)
		}
	}
	if got := b.scrape(t).get(t, "sdjoin_local_entries"); got != 1 {
		t.Errorf("b's local entries %v, want 1", got)
	}

	lists := s.get(t, "sdjoin_control_requests_total", "op=list")
	if got := entries(t, a.sock, "x"); len(got) != 1 {
		t.Fatalf("list x on a: %+v", got)
	}
	if got := a.scrape(t).get(t, "sdjoin_control_requests_total", "op=list"); got != lists+1 {
		t.Errorf("control list requests %v after one list, was %v", got, lists)
	}

	code, _, errs = runCLI(context.Background(), "untrack", "x", "--socket", b.sock)
	if code != 0 {
		t.Fatalf("untrack x on b: exit %d: %s", code, errs)
	}
	s = waitMetric(t, a, "x left a", equals(before.get(t, "sdjoin_leaves_total")+1), "sdjoin_leaves_total")
	if v, ok := s.value("sdjoin_entries", "service=x"); ok {
		t.Errorf("entries of x still %v after it left", v)
	}

	lint(t, a)
}

// lint fails the test on any problem promtool's linter finds in a
// scrape of the agent's metrics.
func lint(t *testing.T, a *metricsAgent) {
	t.Helper()
	resp, err := http.Get(a.url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	problems, err := promlint.New(resp.Body).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// TestMetricsChecks: a TCP check counts its results and its state:
// pending while refused from the start, passing once something listens,
// critical after it goes away.
func TestMetricsChecks(t *testing.T) {
	t.Parallel()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	spec, err := check.Parse("tcp://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	a := startMetricsAgent(t, "a", port, hostfileOf(t, port), trackSpec{service: "api",
		checks: []check.Spec{spec}, interval: testInterval, timeout: 150 * time.Millisecond})

	s := waitMetric(t, a, "failed runs counted", func(v float64) bool { return v >= 2 },
		"sdjoin_check_results_total", "result=pending")
	if got := s.get(t, "sdjoin_checks", "state=pending"); got != 1 {
		t.Errorf("pending checks %v, want 1", got)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	go acceptAll(ln)
	waitMetric(t, a, "check passing", equals(1), "sdjoin_checks", "state=passing")
	ln.Close()
	s = waitMetric(t, a, "check critical", equals(1), "sdjoin_checks", "state=critical")
	for _, r := range []string{"passing", "warning", "critical"} {
		if got := s.get(t, "sdjoin_check_results_total", "result="+r); got < 1 {
			t.Errorf("%s results %v, want some", r, got)
		}
	}
}

// TestMetricsServiceLabelCap: a peer tracking 5000 distinct services
// gets at most maxServiceLabels service label values, the rest counted
// under _other, and a service graphed before the flood keeps its label.
func TestMetricsServiceLabelCap(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	a := startMetricsAgent(t, "a", port, hostfileOf(t, port), trackSpec{service: "zzz-mine"})
	waitMetric(t, a, "own service graphed", equals(1), "sdjoin_entries", "service=zzz-mine")

	peer, err := tracker.New(&tracker.Config{Name: "flood@127.0.0.1", BindAddr: netip.MustParseAddrPort("127.0.0.1:0")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	const flood = 5000
	for i := range flood {
		if _, err := peer.Track(fmt.Sprintf("svc%04d", i), "k", nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := peer.Join([]string{fmt.Sprintf("127.0.0.1:%d", port)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the flood seen", func() bool {
		n := 0
		for _, c := range a.hub.serviceCounts() {
			n += c
		}
		return n == flood+1
	})

	s := a.scrape(t)
	series := s["sdjoin_entries"].GetMetric()
	if len(series) > maxServiceLabels+1 {
		t.Errorf("%d series of sdjoin_entries, want at most %d", len(series), maxServiceLabels+1)
	}
	var total float64
	for _, m := range series {
		total += m.GetGauge().GetValue()
	}
	if total != flood+1 {
		t.Errorf("entries sum to %v, want %d", total, flood+1)
	}
	if got := s.get(t, "sdjoin_entries", "service=zzz-mine"); got != 1 {
		t.Errorf("own service's entries %v after the flood, want 1", got)
	}
	if got := s.get(t, "sdjoin_entries", "service="+otherService); got != flood+1-maxServiceLabels {
		t.Errorf("_other entries %v, want %d", got, flood+1-maxServiceLabels)
	}
}

func TestServiceLabelsFold(t *testing.T) {
	l := newServiceLabels(2)
	steps := []struct {
		name   string
		counts map[string]int
		want   map[string]int
	}{
		{"under_the_cap", map[string]int{"a": 1}, map[string]int{"a": 1}},
		{"over_the_cap_first_by_name", map[string]int{"a": 1, "c": 2, "b": 3},
			map[string]int{"a": 1, "b": 3, otherService: 2}},
		{"flood_keeps_the_named", map[string]int{"a": 1, "b": 1, "0": 5, "1": 5},
			map[string]int{"a": 1, "b": 1, otherService: 10}},
		{"a_gone_frees_its_slot", map[string]int{"b": 1, "0": 5, "1": 5},
			map[string]int{"0": 5, "b": 1, otherService: 5}},
		{"a_service_named_other_is_folded", map[string]int{otherService: 4, "b": 1, "0": 1},
			map[string]int{"0": 1, "b": 1, otherService: 4}},
	}
	for _, st := range steps {
		if diff := cmp.Diff(st.want, l.fold(st.counts)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", st.name, diff)
		}
	}
}

// TestMetricsInstrumentHTTP: instrumentHTTP counts requests by route
// (the pattern, not the path) and status code, and times them.
func TestMetricsInstrumentHTTP(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	a := startMetricsAgent(t, "a", port, hostfileOf(t, port))
	mux := http.NewServeMux()
	mux.Handle("GET /v1/pick/{name}", a.instrumentHTTP("/v1/pick/{name}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("name") == "none" {
			http.Error(w, `{"error":"no provider"}`, http.StatusNotFound)
			return
		}
		w.Write([]byte("{}"))
	})))
	flushed := make(chan error, 1)
	mux.Handle("GET /v1/events", a.instrumentHTTP("/v1/events", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write([]byte(": hello\n\n"))
		flushed <- http.NewResponseController(w).Flush() // an event stream needs it
	})))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/v1/events")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := <-flushed; err != nil {
		t.Errorf("flush through instrumentHTTP: %v", err)
	}
	for _, name := range []string{"web", "db", "none"} {
		resp, err := http.Get(srv.URL + "/v1/pick/" + name)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	s := a.scrape(t)
	route := "route=/v1/pick/{name}"
	if got := s.get(t, "sdjoin_http_requests_total", route, "code=200"); got != 2 {
		t.Errorf("200s %v, want 2", got)
	}
	if got := s.get(t, "sdjoin_http_requests_total", route, "code=404"); got != 1 {
		t.Errorf("404s %v, want 1", got)
	}
	if got := s.get(t, "sdjoin_http_request_duration_seconds", route); got != 3 {
		t.Errorf("timed %v requests, want 3", got)
	}
	if got := s.get(t, "sdjoin_http_requests_total", "route=/v1/events", "code=200"); got != 1 {
		t.Errorf("event streams %v, want 1", got)
	}
	lint(t, a)
}

// A watch client that stops reading falls behind; the events it missed
// are counted as dropped. Events are counted once each, the initial
// state not at all.
func TestMetricsHubEvents(t *testing.T) {
	h := newHub()
	join := func(node string) {
		h.applyDiff(tracker.Diff{Joins: []tracker.Presence{{Service: "x", Node: node, Key: "k"}}})
	}
	join("before")
	m := newAgentMetrics(nil, h)
	w := &watcher{c: make(chan record, 2), dropped: h.dropped}
	h.register("", func(int) handler { return w })
	for i := range 5 {
		join(fmt.Sprintf("n%d", i))
	}
	if got := h.lost.Load(); got != 4 { // 6 for 2 places: the replayed join, n0
		t.Errorf("dropped %d, want 4", got)
	}
	if got := m.events.joins.Load(); got != 5 {
		t.Errorf("joins %d, want 5", got)
	}
}

// TestMetricsSurviveRename: the gossip counters keep growing when the
// agent replaces its tracker (here: renamed to a new address); the old
// tracker's counts are kept. A peer counts the rename once, though it
// moves entries of two services.
func TestMetricsSurviveRename(t *testing.T) {
	t.Parallel()
	p1, p2 := freePort(t), freePort(t)
	hosts := hostfileOf(t, p1, p2)
	a := startMetricsAgent(t, "a", p1, hosts, trackSpec{service: "s1"}, trackSpec{service: "s2"})
	b := startMetricsAgent(t, "b", p2, hosts)
	waitMetric(t, a, "2 members", equals(2), "sdjoin_members", "state=alive")
	waitMetric(t, b, "a's entries on b", equals(1), "sdjoin_entries", "service=s2")
	joins := b.scrape(t).get(t, "sdjoin_joins_total")
	a.mu.Lock()
	old := a.t
	a.mu.Unlock()
	if err := a.reidentify(netip.MustParseAddr("127.0.0.2")); err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	cur := a.t
	a.mu.Unlock()
	if cur == old {
		t.Fatal("tracker not replaced")
	}
	want := old.Stats().SentBytes + cur.Stats().SentBytes
	if got := a.scrape(t).get(t, "sdjoin_gossip_sent_bytes_total"); got < float64(want) {
		t.Errorf("sent bytes %v after the rename, want at least %d (old tracker's and new one's)", got, want)
	}
	// b sees a's entries of both services move: one rename.
	s := waitMetric(t, b, "a's entries back on b", func(v float64) bool { return v >= joins+2 }, "sdjoin_joins_total")
	if got := s.get(t, "sdjoin_renames_total"); got != 1 {
		t.Errorf("b counted %v renames, want 1", got)
	}
}

// TestMetricsControlInvalid: a request that cannot be decoded is counted
// under op="invalid", not under whatever op it names.
func TestMetricsControlInvalid(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	a := startMetricsAgent(t, "a", port, hostfileOf(t, port))
	for _, req := range []string{"nonsense\n", `{"op":"drop-tables"}` + "\n", `{"op":"pick"}` + "\n"} {
		c, err := net.Dial("unix", a.sock)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte(req))
		io.Copy(io.Discard, c)
		c.Close()
	}
	s := a.scrape(t)
	if got := s.get(t, "sdjoin_control_requests_total", "op=invalid"); got != 3 {
		t.Errorf("invalid requests %v, want 3", got)
	}
	if got := s.get(t, "sdjoin_control_requests_total", "op=pick"); got != 0 {
		t.Errorf("pick requests %v, want 0", got)
	}
	if n := len(s["sdjoin_control_requests_total"].GetMetric()); n != 9 {
		t.Errorf("%d op values, want the 9 known", n)
	}
}

// Over random scrapes, fold never gives more than limit+1 label values,
// never loses or invents an entry, and never takes a label from a service
// that still has entries.
func TestServiceLabelsFoldProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		limit := 1 + rng.IntN(20)
		l := newServiceLabels(limit)
		prev := map[string]int{}
		for scrape := range 20 {
			counts := map[string]int{}
			for range rng.IntN(60) {
				counts[fmt.Sprintf("s%d", rng.IntN(80))] += 1 + rng.IntN(3)
			}
			if rng.IntN(4) == 0 {
				counts[otherService] = 1 + rng.IntN(3)
			}
			got := l.fold(counts)
			if len(got) > limit+1 {
				t.Fatalf("round %d scrape %d: %d label values, limit %d", round, scrape, len(got), limit)
			}
			sum, want := 0, 0
			for _, n := range got {
				sum += n
			}
			for _, n := range counts {
				want += n
			}
			if sum != want {
				t.Fatalf("round %d scrape %d: folded sum %d, want %d", round, scrape, sum, want)
			}
			for svc := range prev {
				if svc != otherService && counts[svc] > 0 && got[svc] != counts[svc] {
					t.Fatalf("round %d scrape %d: %s lost its label", round, scrape, svc)
				}
			}
			prev = got
		}
	}
}

// TestMetricsInvalidUTF8Service: service names from the network may be
// any bytes; a name that is not UTF-8 (a label value must be) must not
// stop the scrape (the client library turns the collector's panic into
// an error and drops the rest), nor lose its entries; quotes, backslashes
// and newlines are escaped.
func TestMetricsInvalidUTF8Service(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	a := startMetricsAgent(t, "a", port, hostfileOf(t, port))
	peer, err := tracker.New(&tracker.Config{Name: "evil@127.0.0.1", BindAddr: netip.MustParseAddrPort("127.0.0.1:0")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	for _, svc := range []string{"bad\xffname", "bad\xfename", "we\"ird\\\nname", "ok"} {
		if _, err := peer.Track(svc, "k", nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := peer.Join([]string{fmt.Sprintf("127.0.0.1:%d", port)}); err != nil {
		t.Fatal(err)
	}
	s := waitMetric(t, a, "the peer's entries", equals(1), "sdjoin_entries", "service=ok")
	if got := s.get(t, "sdjoin_entries", "service=bad\uFFFDname"); got != 2 {
		t.Errorf("entries of the invalid names %v, want 2 under bad\\uFFFDname", got)
	}
	if got := s.get(t, "sdjoin_entries", "service=we\"ird\\\nname"); got != 1 {
		t.Errorf("entries of a name with a quote, backslash and newline: %v, want 1", got)
	}
	if _, ok := s.value("sdjoin_gossip_sent_bytes_total"); !ok { // collected after the entries
		t.Error("no gossip metrics: the scrape stopped at the bad names")
	}
	lint(t, a)
}

// BenchmarkMetricsScrape scrapes an agent that sees 1000 entries, one per
// service (the worst case: a series each), over HTTP on loopback, and
// reports the body's size, plain and gzipped.
func BenchmarkMetricsScrape(b *testing.B) {
	port := lab.FreePort(b)
	hosts := filepath.Join(b.TempDir(), "hosts")
	tracks := make([]trackSpec, 1000)
	for i := range tracks {
		tracks[i] = trackSpec{service: fmt.Sprintf("svc%04d", i), meta: map[string]string{"port": "80"}}
	}
	a := startMetricsAgent(b, "a", port, hosts, tracks...)
	lab.Eventually(b, 10*time.Second, "1000 entries", func() error {
		if n := len(a.hub.serviceCounts()); n != len(tracks) {
			return fmt.Errorf("%d services", n)
		}
		return nil
	})
	var size int64
	for b.Loop() {
		size = scrapeSize(b, a.url, false)
	}
	b.ReportMetric(float64(size), "bytes/scrape")
	b.ReportMetric(float64(scrapeSize(b, a.url, true)), "gzip-bytes/scrape")
}

// scrapeSize GETs url and returns the size of the body, gzipped as
// Prometheus asks for it or plain.
func scrapeSize(b *testing.B, url string, gzipped bool) int64 {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		b.Fatal(err)
	}
	if gzipped {
		req.Header.Set("Accept-Encoding", "gzip") // set by hand: not decompressed
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("scrape: %v %s", err, resp.Status)
	}
	return n
}

// TestMetricsOverHTTPAPI: /metrics on the --http listener counts the
// API's requests by route pattern (never by path) and its open event
// streams.
func TestMetricsOverHTTPAPI(t *testing.T) {
	t.Parallel()
	p := freePort(t)
	_, api := startHTTPAgent(t, "node1", p, hostfileOf(t, p), "--track", "web")
	pick := func(name string) int {
		resp, err := api.c.Get(api.base + "/v1/pick/" + name)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	picks := 0
	waitFor(t, 5*time.Second, "pick web answered", func() bool { picks++; return pick("web") == http.StatusOK })
	if code := pick("nosuch"); code != http.StatusNotFound {
		t.Fatalf("pick nosuch: status %d, want 404", code)
	}
	s := api.openEvents("")
	s.next(t, "replayed join", func(r record) bool { return r.Event == evJoin })
	m := &metricsAgent{url: api.base + "/metrics"}
	got := m.scrape(t)
	if v := got.get(t, "sdjoin_http_requests_total", "route=GET /v1/pick/{name}", "code=200"); v != 1 {
		t.Errorf("pick answered 200: counted %v, want 1", v)
	}
	if v := got.get(t, "sdjoin_http_requests_total", "route=GET /v1/pick/{name}", "code=404"); v != float64(picks) {
		t.Errorf("pick answered 404: counted %v, want %d", v, picks)
	}
	for _, f := range got["sdjoin_http_requests_total"].GetMetric() {
		for _, l := range f.Label {
			if l.GetName() == "route" && strings.Contains(l.GetValue(), "nosuch") {
				t.Errorf("route label %q holds a request's path", l.GetValue())
			}
		}
	}
	if v := got.get(t, "sdjoin_http_event_streams"); v != 1 {
		t.Errorf("event streams open: %v, want 1", v)
	}
	if v := got.get(t, "sdjoin_http_event_streams_dropped_total"); v != 0 {
		t.Errorf("event streams dropped: %v, want 0", v)
	}
}

// TestMetricsGzipAndBusy: a scrape that accepts gzip gets the metrics
// gzipped, and while maxScrapes scrapes are being served another gets 503
// at once.
func TestMetricsGzipAndBusy(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	a := startMetricsAgent(t, "a", port, hostfileOf(t, port))
	req, err := http.NewRequest("GET", a.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", "gzip") // set by hand: not decompressed
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if enc := resp.Header.Get("Content-Encoding"); enc != "gzip" {
		t.Fatalf("Content-Encoding %q, want gzip", enc)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(zr)
	if err != nil {
		t.Fatalf("parse gzipped metrics: %v", err)
	}
	if fams["sdjoin_members"] == nil || fams["process_resident_memory_bytes"] == nil {
		t.Errorf("gzipped scrape lacks sdjoin_members or process metrics: %d families", len(fams))
	}

	for range maxScrapes { // scrapes in progress
		a.metrics.scrapes <- struct{}{}
	}
	busy, err := http.Get(a.url)
	if err != nil {
		t.Fatal(err)
	}
	busy.Body.Close()
	for range maxScrapes {
		<-a.metrics.scrapes
	}
	if busy.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("scrape past %d at once: %s, want 503", maxScrapes, busy.Status)
	}
	a.scrape(t) // served again
}
