package cliutil

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"sync"
)

// NewLogHandler returns a slog.Handler that writes records of level and
// above to w in the commands' style, one line each, without a time:
//
//	NAME: error: MESSAGE key=value ...     (errors)
//	NAME: warning: MESSAGE key=value ...   (warnings)
//	NAME: MESSAGE key=value ...            (below)
//
// Attributes are formatted as slog's TextHandler does.
func NewLogHandler(w io.Writer, name string, level slog.Leveler) slog.Handler {
	lh := &logHandler{w: w, name: name, level: level, mu: new(sync.Mutex), buf: new(bytes.Buffer)}
	lh.text = slog.NewTextHandler(lh.buf, &slog.HandlerOptions{
		Level: slog.LevelDebug, // Enabled filters
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey || a.Key == slog.MessageKey) {
				return slog.Attr{}
			}
			return a
		},
	})
	return lh
}

type logHandler struct {
	w     io.Writer
	name  string
	level slog.Leveler
	text  slog.Handler // formats the attributes into buf
	mu    *sync.Mutex  // guards buf and w, shared by derived handlers
	buf   *bytes.Buffer
}

func (h *logHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

func (h *logHandler) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.buf.Reset()
	if err := h.text.Handle(ctx, r); err != nil {
		return err
	}
	attrs := bytes.TrimSpace(h.buf.Bytes())
	line := make([]byte, 0, len(h.name)+len(r.Message)+len(attrs)+16)
	line = append(line, h.name...)
	line = append(line, ": "...)
	switch {
	case r.Level >= slog.LevelError:
		line = append(line, "error: "...)
	case r.Level >= slog.LevelWarn:
		line = append(line, "warning: "...)
	}
	line = append(line, r.Message...)
	if len(attrs) > 0 {
		line = append(line, ' ')
		line = append(line, attrs...)
	}
	line = append(line, '\n')
	_, err := h.w.Write(line)
	return err
}

func (h *logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.text = h.text.WithAttrs(as)
	return &c
}

func (h *logHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.text = h.text.WithGroup(name)
	return &c
}
