package promtext

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// parse reads b with the Prometheus text parser.
func parse(t testing.TB, b []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, b)
	}
	return fams
}

// lint fails the test on any problem promtool's linter finds in b.
func lint(t *testing.T, b []byte) {
	t.Helper()
	problems, err := promlint.New(bytes.NewReader(b)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func labelsOf(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.Label {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// TestWriterParses: what Writer writes, Prometheus's own parser reads
// back exactly, escapes and all, and promtool's linter finds nothing.
func TestWriterParses(t *testing.T) {
	var b bytes.Buffer
	w := NewWriter(&b)
	w.Family("demo_entries", TypeGauge, "Entries, by service.\nSecond line with a \\ backslash.")
	odd := []string{"plain", "we\"ird\\\nname", "bad\xffname", ""}
	for i, svc := range odd {
		w.Sample("demo_entries", float64(i)+0.5, "service", svc, "zone", "a")
	}
	w.Family("demo_events_total", TypeCounter, "Events.")
	w.Count("demo_events_total", 1<<60+1)
	w.One("demo_ratio", TypeGauge, "A ratio.", math.Inf(1))
	h := NewHistogram([]float64{0.001, 0.01, 0.1})
	for _, v := range []float64{0.0005, 0.001, 0.05, 3} {
		h.Observe(v)
	}
	w.Family("demo_duration_seconds", TypeHistogram, "Durations.")
	w.Histogram("demo_duration_seconds", h, "route", "/v1/x")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	fams := parse(t, b.Bytes())

	e := fams["demo_entries"]
	if got, want := e.GetHelp(), "Entries, by service.\nSecond line with a \\ backslash."; got != want {
		t.Errorf("help %q, want %q", got, want)
	}
	if len(e.Metric) != len(odd) {
		t.Fatalf("%d entries samples, want %d", len(e.Metric), len(odd))
	}
	for i, m := range e.Metric {
		want := map[string]string{"service": strings.ToValidUTF8(odd[i], "\uFFFD"), "zone": "a"}
		if diff := cmp.Diff(want, labelsOf(m)); diff != "" {
			t.Errorf("sample %d labels (-want +got):\n%s", i, diff)
		}
		if got := m.GetGauge().GetValue(); got != float64(i)+0.5 {
			t.Errorf("sample %d value %v", i, got)
		}
	}
	if got := fams["demo_events_total"].Metric[0].GetCounter().GetValue(); got != float64(1<<60+1) {
		t.Errorf("counter %v", got)
	}
	if !bytes.Contains(b.Bytes(), []byte("demo_events_total 1152921504606846977\n")) {
		t.Error("large count not written exactly")
	}
	if got := fams["demo_ratio"].Metric[0].GetGauge().GetValue(); !math.IsInf(got, 1) {
		t.Errorf("ratio %v, want +Inf", got)
	}
	hm := fams["demo_duration_seconds"].Metric[0].GetHistogram()
	if hm.GetSampleCount() != 4 || hm.GetSampleSum() != 0.0005+0.001+0.05+3 {
		t.Errorf("histogram count %d sum %v", hm.GetSampleCount(), hm.GetSampleSum())
	}
	var cum []uint64
	for _, bk := range hm.Bucket {
		cum = append(cum, bk.GetCumulativeCount())
	}
	if diff := cmp.Diff([]uint64{2, 2, 3, 4}, cum); diff != "" {
		t.Errorf("cumulative buckets (-want +got):\n%s", diff)
	}
	lint(t, b.Bytes())
}

// TestRuntime: the runtime and process metrics parse, pass the linter
// and hold plausible values.
func TestRuntime(t *testing.T) {
	var b bytes.Buffer
	w := NewWriter(&b)
	w.Runtime()
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	fams := parse(t, b.Bytes())
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "go_info",
		"process_cpu_seconds_total", "process_resident_memory_bytes", "process_start_time_seconds", "process_open_fds"} {
		if fams[name] == nil {
			t.Errorf("no %s", name)
		}
	}
	if rss := fams["process_resident_memory_bytes"].Metric[0].GetGauge().GetValue(); rss < 1<<20 || rss > 1<<34 {
		t.Errorf("resident memory %v bytes", rss)
	}
	lint(t, b.Bytes())
}

func TestParseStat(t *testing.T) {
	// A command name may hold spaces and parentheses.
	line := "4242 (my (odd) cmd) S 1 4242 4242 0 -1 4194560 3000 0 0 0 250 130 0 0 20 0 9 0 12345 987654321 2048 " +
		"18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
	st, err := parseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	want := procStat{utime: 250, stime: 130, start: 12345, vsize: 987654321, rss: 2048}
	if st != want {
		t.Errorf("parseStat = %+v, want %+v", st, want)
	}
	for _, bad := range []string{"", "1 (x) S 1 2", "1 (x" + strings.Repeat(" 9", 30), "1 (x) S" + strings.Repeat(" z", 30)} {
		if _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("parseStat(%q) accepted", bad)
		}
	}
}

// FuzzSample: any help text and label value is written so that the
// parser reads it back (bad UTF-8 as U+FFFD; the parser drops a help
// text's leading blanks).
func FuzzSample(f *testing.F) {
	f.Add("help", "value")
	f.Add("a\nb\\c\"", "we\"ird\\\nname")
	f.Add("", "bad\xffname")
	f.Fuzz(func(t *testing.T, help, value string) {
		if !utf8.ValidString(help) {
			help = strings.ToValidUTF8(help, "\uFFFD")
		}
		var b bytes.Buffer
		w := NewWriter(&b)
		w.Family("fuzz_value", TypeGauge, help)
		w.Sample("fuzz_value", 1, "v", value)
		w.Flush()
		fams := parse(t, b.Bytes())
		f := fams["fuzz_value"]
		if help = strings.TrimLeft(help, " \t"); f.GetHelp() != help { // the parser skips them
			t.Fatalf("help %q read back as %q", help, f.GetHelp())
		}
		want := strings.ToValidUTF8(value, "\uFFFD")
		if got := labelsOf(f.Metric[0])["v"]; got != want {
			t.Fatalf("label %q read back as %q", want, got)
		}
	})
}
