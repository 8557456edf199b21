package promtext

import (
	"bufio"
	"io"
	"math"
	"strconv"
	"strings"
	"sync/atomic"
)

// ContentType is the media type of the format.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Metric types, as a family's TYPE line gives them.
const (
	TypeCounter   = "counter"
	TypeGauge     = "gauge"
	TypeHistogram = "histogram"
)

// Writer writes metric families to an io.Writer, buffered. The first
// write error sticks: later writes do nothing and Flush returns it.
type Writer struct {
	w   *bufio.Writer
	buf []byte
}

// NewWriter returns a Writer to w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: bufio.NewWriter(w)}
}

// Flush writes what is buffered and returns the first error.
func (w *Writer) Flush() error { return w.w.Flush() }

// Family starts the family name of type typ: its HELP and TYPE lines.
// Its samples must follow before the next family.
func (w *Writer) Family(name, typ, help string) {
	b := append(w.buf[:0], "# HELP "...)
	b = append(b, name...)
	b = append(b, ' ')
	b = appendEscaped(b, help, false)
	b = append(b, "\n# TYPE "...)
	b = append(b, name...)
	b = append(b, ' ')
	b = append(b, typ...)
	b = append(b, '\n')
	w.write(b)
}

// Sample writes one sample of name with labels, given as name, value
// pairs. A label value that is not UTF-8 is written with U+FFFD for its
// bad bytes.
func (w *Writer) Sample(name string, v float64, labels ...string) {
	b := appendSeries(w.buf[:0], name, labels)
	b = append(b, ' ')
	b = appendFloat(b, v)
	b = append(b, '\n')
	w.write(b)
}

// Count writes one sample of a whole count, exactly (a float64 would
// round counts past 2^53).
func (w *Writer) Count(name string, v uint64, labels ...string) {
	b := appendSeries(w.buf[:0], name, labels)
	b = append(b, ' ')
	b = strconv.AppendUint(b, v, 10)
	b = append(b, '\n')
	w.write(b)
}

// One writes a family of one sample without labels.
func (w *Writer) One(name, typ, help string, v float64) {
	w.Family(name, typ, help)
	w.Sample(name, v)
}

func (w *Writer) write(b []byte) {
	w.buf = b
	w.w.Write(b) // bufio keeps the first error for Flush
}

func appendSeries(b []byte, name string, labels []string) []byte {
	b = append(b, name...)
	if len(labels) < 2 {
		return b
	}
	b = append(b, '{')
	for i := 0; i+1 < len(labels); i += 2 {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, labels[i]...)
		b = append(b, `="`...)
		b = appendEscaped(b, strings.ToValidUTF8(labels[i+1], "\uFFFD"), true)
		b = append(b, '"')
	}
	return append(b, '}')
}

// appendEscaped escapes backslashes and newlines, and double quotes in a
// label value, as the format asks.
func appendEscaped(b []byte, s string, quote bool) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b = append(b, `\\`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '"' && quote:
			b = append(b, `\"`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

func appendFloat(b []byte, v float64) []byte {
	switch {
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	case math.IsNaN(v):
		return append(b, "NaN"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// Histogram counts observations in buckets. It is safe for concurrent
// use; Observe does not lock.
type Histogram struct {
	bounds  []float64       // upper bounds, ascending
	counts  []atomic.Uint64 // per bucket, the last one past every bound
	sumBits atomic.Uint64   // float64 bits of the sum
}

// NewHistogram returns a histogram with buckets up to each of bounds, which
// must ascend, and one past them (+Inf).
func NewHistogram(bounds []float64) *Histogram {
	return &Histogram{bounds: bounds, counts: make([]atomic.Uint64, len(bounds)+1)}
}

// Observe counts v.
func (h *Histogram) Observe(v float64) {
	i := 0
	for i < len(h.bounds) && v > h.bounds[i] {
		i++
	}
	h.counts[i].Add(1)
	for {
		old := h.sumBits.Load()
		if h.sumBits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// Histogram writes the samples of h under name with labels (name, value
// pairs): the cumulative buckets, the sum and the count. Its family (of
// TypeHistogram) must have been started.
func (w *Writer) Histogram(name string, h *Histogram, labels ...string) {
	le := append(labels[:len(labels):len(labels)], "le", "")
	var n uint64
	for i := range h.counts {
		n += h.counts[i].Load()
		if i < len(h.bounds) {
			le[len(le)-1] = string(appendFloat(nil, h.bounds[i]))
		} else {
			le[len(le)-1] = "+Inf"
		}
		w.Count(name+"_bucket", n, le...)
	}
	w.Sample(name+"_sum", math.Float64frombits(h.sumBits.Load()), labels...)
	w.Count(name+"_count", n, labels...)
}
