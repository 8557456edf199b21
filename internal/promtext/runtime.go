package promtext

import (
	"runtime"
	"runtime/metrics"
)

// goSamples are the runtime/metrics samples Runtime reads, each named and
// typed as client_golang's Go collector shows it.
var goSamples = []struct {
	key, name, typ, help string
}{
	{"/sched/goroutines:goroutines", "go_goroutines", TypeGauge, "Number of goroutines that currently exist."},
	{"/sched/gomaxprocs:threads", "go_sched_gomaxprocs_threads", TypeGauge, "The current runtime.GOMAXPROCS setting: the number of operating system threads that can execute user-level Go code at once."},
	{"/gc/cycles/total:gc-cycles", "go_gc_cycles_total", TypeCounter, "Count of completed GC cycles."},
	{"/memory/classes/heap/objects:bytes", "go_memstats_heap_alloc_bytes", TypeGauge, "Number of heap bytes allocated and currently in use."},
	{"/memory/classes/total:bytes", "go_memstats_sys_bytes", TypeGauge, "Number of bytes obtained from the system."},
	{"/gc/heap/goal:bytes", "go_gc_heap_goal_bytes", TypeGauge, "Heap size target for the end of the GC cycle."},
}

// Runtime writes the Go runtime's metrics (go_*) and, on Linux, the
// process's (process_*: CPU, memory, file descriptors, start time).
func (w *Writer) Runtime() {
	s := make([]metrics.Sample, len(goSamples))
	for i := range goSamples {
		s[i].Name = goSamples[i].key
	}
	metrics.Read(s)
	for i, g := range goSamples {
		var v float64
		switch s[i].Value.Kind() {
		case metrics.KindUint64:
			v = float64(s[i].Value.Uint64())
		case metrics.KindFloat64:
			v = s[i].Value.Float64()
		default: // not in this Go version
			continue
		}
		w.One(g.name, g.typ, g.help, v)
	}
	w.Family("go_info", TypeGauge, "Information about the Go environment.")
	w.Sample("go_info", 1, "version", runtime.Version())
	w.process()
}
