package ipfindercmd

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/cliutil"
	"github.com/ipfinder-go/ipfinder/scan"
)

// progress shows how far the ARP sweeps are on a terminal's stderr, once
// they have taken more than a second; elsewhere, under cron say, it is silent.
type progress struct {
	w     io.Writer
	mu    sync.Mutex
	names []string
	done  []int
	total []int
	start time.Time
	shown bool
	off   bool
}

func newProgress(w io.Writer, plans []scan.Plan) *progress {
	p := &progress{w: w, start: time.Now(), off: !cliutil.IsTerminal(w)}
	for _, pl := range plans {
		p.names = append(p.names, pl.Iface.Name)
		p.done = append(p.done, 0)
		p.total = append(p.total, len(pl.Targets))
	}
	return p
}

// link returns the ARP progress callback of the i-th plan.
func (p *progress) link(i int) func(done, total int) {
	return func(done, total int) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.done[i], p.total[i] = done, total
		if p.off || time.Since(p.start) < time.Second {
			return
		}
		parts := make([]string, len(p.names))
		for j := range p.names {
			parts[j] = fmt.Sprintf("%s %d/%d", p.names[j], p.done[j], p.total[j])
		}
		fmt.Fprintf(p.w, "\r\033[Kipfinder: sweeping %s", strings.Join(parts, ", "))
		p.shown = true
	}
}

// stop clears the progress line.
func (p *progress) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
	}
	p.off, p.shown = true, false
}
