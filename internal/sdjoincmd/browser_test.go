package sdjoincmd

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// chromiumPath is the browser the web page tests drive (Debian package
// chromium).
const chromiumPath = "/usr/bin/chromium"

// browserTimeout bounds a browser test: the browser, every action and
// every wait.
const browserTimeout = 60 * time.Second

// browserSlot lets one browser run at a time: on a loaded machine
// several starve each other past their deadlines.
var browserSlot = make(chan struct{}, 1)

// browser is a headless Chromium tab.
type browser struct {
	ctx context.Context
	mu  sync.Mutex
	exc []string // exceptions the page threw
}

// newBrowser starts headless Chromium with a fresh profile, stopped when
// the test ends or after browserTimeout. Without Chromium the test is
// skipped, and fails under CI=true.
func newBrowser(t *testing.T, width, height int) *browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") != "true" {
			t.Skipf("%v: install the Debian package chromium", err)
		}
		t.Fatalf("%v: install the Debian package chromium", err)
	}
	browserSlot <- struct{}{}
	t.Cleanup(func() { <-browserSlot }) // after the browser stopped: cleanups run last first
	profile := t.TempDir()              // removed after the browser stopped
	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	actx, acancel := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(profile), chromedp.WindowSize(width, height))
	b := &browser{}
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok {
			b.mu.Lock()
			d := e.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			b.exc = append(b.exc, fmt.Sprintf("%s (line %d)", msg, d.LineNumber+1))
			b.mu.Unlock()
		}
	}))
	t.Cleanup(func() { bcancel(); acancel(); cancel() })
	b.ctx = bctx
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start %s: %v", chromiumPath, err)
	}
	return b
}

// open loads url and waits for the page to be live.
func (b *browser) open(t *testing.T, url string) {
	t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	b.wait(t, "the page to connect to /v1/events", func() (bool, string) {
		s := eval[string](t, b, `document.getElementById('status').dataset.state`)
		return s == "live", "status " + s
	})
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](t *testing.T, b *browser, expr string) T {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// wait polls cond until it holds; on timeout it fails with what and the
// last state cond described.
func (b *browser) wait(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	lab.Eventually(t, 30*time.Second, what, func() error {
		if ok, state := cond(); !ok {
			b.mu.Lock()
			defer b.mu.Unlock()
			return fmt.Errorf("%s (page exceptions: %q)", state, b.exc)
		}
		return nil
	})
}

// rows returns the text of the cells of the data rows of table (members,
// services or events), as shown.
func (b *browser) rows(t *testing.T, table string) [][]string {
	t.Helper()
	return eval[[][]string](t, b, `[...document.querySelectorAll('#`+table+` tbody tr:not(:has(td[colspan]))')]
		.map((tr) => [...tr.cells].map((td) => td.textContent))`)
}

// waitRows waits until the rows of table satisfy cond.
func (b *browser) waitRows(t *testing.T, table, what string, cond func([][]string) bool) {
	t.Helper()
	b.wait(t, what, func() (bool, string) {
		rs := b.rows(t, table)
		return cond(rs), fmt.Sprintf("%s rows %q", table, rs)
	})
}

// column returns the cells of column i.
func column(rows [][]string, i int) []string {
	var out []string
	for _, r := range rows {
		if i < len(r) {
			out = append(out, r[i])
		}
	}
	return out
}

// hasRow reports whether a row starts with the cells prefix.
func hasRow(rows [][]string, prefix ...string) bool {
	for _, r := range rows {
		if len(r) >= len(prefix) && strings.Join(r[:len(prefix)], "\x00") == strings.Join(prefix, "\x00") {
			return true
		}
	}
	return false
}

// filter types s into the filter box, emptied first.
func (b *browser) filter(t *testing.T, s string) {
	t.Helper()
	eval[bool](t, b, `(() => { const f = document.getElementById('filter'); f.value = ''; return f.dispatchEvent(new Event('input')); })()`)
	if s == "" {
		return
	}
	if err := chromedp.Do(b.ctx, chromedp.SendKeys(chromedp.ID("filter"), s)); err != nil {
		t.Fatalf("type %q into the filter: %v", s, err)
	}
}

// noExceptions fails the test if the page threw.
func (b *browser) noExceptions(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.exc {
		t.Errorf("the page threw: %s", e)
	}
}
