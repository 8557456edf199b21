package sdjoincmd

import (
	"bytes"
	"flag"
	"fmt"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

var updateScreenshot = flag.Bool("update", false, "rewrite docs/web.png (TestWebPageScreenshot)")

// track runs `sdjoin track args...` on a and fails the test unless it
// succeeds.
func (a *testAgent) track(t *testing.T, args ...string) {
	t.Helper()
	if code, _, errs := a.run(append([]string{"track"}, args...)...); code != 0 {
		t.Fatalf("track %q on %s: exit %d: %s", args, a.name, code, errs)
	}
}

func TestWebPageChromium(t *testing.T) {
	t.Parallel()
	p1, p2 := freePort(t), freePort(t)
	hosts := hostfileOf(t, p1, p2)
	n1, api := startHTTPAgent(t, "node1", p1, hosts)
	n2 := startAgent(t, "node2", p2, hosts)
	waitFor(t, 10*time.Second, "node1 to see node2", func() bool {
		code, out, _ := n1.run("members", "--json")
		return code == 0 && len(decodeLines(t, out)) == 2
	})

	b := newBrowser(t, 1200, 900)
	b.open(t, api.base+"/")
	b.waitRows(t, "members", "both members", func(rs [][]string) bool {
		return slices.Equal(column(rs, 0), []string{n1.node() + " (this agent)", n2.node()}) &&
			hasRow(rs, n2.node(), fmt.Sprintf("127.0.0.1:%d", p2), "alive")
	})

	// Tracked on the other agent after the page loaded.
	n2.track(t, "web", "--meta", "port=8080")
	webRow := []string{"web", n2.node(), fmt.Sprintf("127.0.0.1:%d", p2), "port=8080", "–"}
	b.waitRows(t, "services", "web tracked on node2", func(rs [][]string) bool { return hasRow(rs, webRow...) })
	b.waitRows(t, "events", "the join of web logged", func(rs [][]string) bool {
		return len(rs) > 0 && slices.Equal(rs[0][1:4], []string{"join", "web", n2.node()})
	})

	// A name from the network is text, never markup.
	evil := `<img src=x onerror="document.title='pwned'"><b>bold</b>`
	n2.track(t, evil)
	b.waitRows(t, "services", "the hostile name as text", func(rs [][]string) bool { return hasRow(rs, evil, n2.node()) })
	if n := eval[int](t, b, `document.querySelectorAll('img, b, [onerror]').length`); n != 0 {
		t.Errorf("the hostile name made %d elements", n)
	}
	if title := eval[string](t, b, `document.title`); title != "sdjoin "+n1.node() {
		t.Errorf("title = %q", title)
	}

	// The filter hides what does not match, in every table.
	n1.track(t, "db")
	b.waitRows(t, "services", "db tracked on node1", func(rs [][]string) bool { return hasRow(rs, "db", n1.node()) })
	b.filter(t, "WEB")
	b.waitRows(t, "services", "only web shown", func(rs [][]string) bool { return slices.Equal(column(rs, 0), []string{"web"}) })
	b.waitRows(t, "members", "no member shown", func(rs [][]string) bool { return len(rs) == 0 })
	b.waitRows(t, "events", "only web's events shown", func(rs [][]string) bool {
		return len(rs) > 0 && !slices.ContainsFunc(rs, func(r []string) bool { return r[2] != "web" })
	})
	if got := eval[string](t, b, `document.getElementById('services-count').textContent`); got != "(1 of 3 providers, 3 services)" {
		t.Errorf("services heading count = %q", got)
	}
	b.filter(t, "")
	b.waitRows(t, "services", "every service back", func(rs [][]string) bool { return len(rs) == 3 })

	// Untracked: gone; the agent stops: its entries and itself gone.
	if code, _, errs := n2.run("untrack", "web"); code != 0 {
		t.Fatalf("untrack web: %d %s", code, errs)
	}
	b.waitRows(t, "services", "web gone after untrack", func(rs [][]string) bool {
		return !hasRow(rs, "web") && hasRow(rs, evil, n2.node())
	})
	n2.stop(t)
	b.waitRows(t, "services", "node2's entries gone after it stopped", func(rs [][]string) bool {
		return slices.Equal(column(rs, 0), []string{"db"})
	})
	b.waitRows(t, "members", "node2 gone after it stopped", func(rs [][]string) bool { return len(rs) == 1 })
	b.noExceptions(t)
}

// TestWebPageReconnect restarts the agent behind the page: the page says
// it is disconnected, then shows the new agent's state without a reload.
func TestWebPageReconnect(t *testing.T) {
	t.Parallel()
	p := freePort(t)
	hosts := hostfileOf(t, p)
	api := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	a := startAgent(t, "solo", p, hosts, "--http", api, "--track", "before")
	b := newBrowser(t, 1000, 700)
	b.open(t, "http://"+api+"/")
	b.waitRows(t, "services", "before", func(rs [][]string) bool { return slices.Equal(column(rs, 0), []string{"before"}) })

	a.stop(t)
	b.wait(t, "the page to notice", func() (bool, string) {
		s := eval[string](t, b, `document.getElementById('status').dataset.state`)
		return s == "down" && eval[bool](t, b, `document.body.classList.contains('stale')`), "status " + s
	})
	startAgent(t, "solo", p, hosts, "--http", api, "--track", "after")
	b.wait(t, "the page to reconnect", func() (bool, string) {
		s := eval[string](t, b, `document.getElementById('status').dataset.state`)
		return s == "live", "status " + s
	})
	b.waitRows(t, "services", "the new agent's state", func(rs [][]string) bool { return slices.Equal(column(rs, 0), []string{"after"}) })
	b.waitRows(t, "events", "the reconnect logged, what changed meanwhile after it", func(rs [][]string) bool {
		return len(rs) == 3 && slices.Equal(column(rs, 1), []string{"leave", "join", "reconnected"}) &&
			slices.Equal(column(rs, 2), []string{"before", "after", ""})
	})
	b.noExceptions(t)
}

// TestWebPageScreenshot shows a 3-agent cluster; with -update it writes
// the screenshot to docs/web.png for the README.
func TestWebPageScreenshot(t *testing.T) {
	t.Parallel()
	p1, p2, p3 := freePort(t), freePort(t), freePort(t)
	hosts := hostfileOf(t, p1, p2, p3)
	api := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	n1 := startAgent(t, "gateway", p1, hosts, "--http", api,
		"--track", "web", "--meta", "port=443", "--check", "tcp://"+api, "--check-interval", "100ms",
		"--track", "metrics", "--meta", "port=9100", "--check", "tcp://127.0.0.1:1", "--check-interval", "100ms")
	n2 := startAgent(t, "db1", p2, hosts, "--track", "postgres", "--meta", "port=5432", "--meta", "role=primary",
		"--track", "metrics", "--meta", "port=9100")
	n3 := startAgent(t, "web2", p3, hosts, "--track", "web", "--meta", "port=443", "--track", "metrics", "--meta", "port=9100")
	b := newBrowser(t, 1000, 700)
	b.open(t, "http://"+api+"/")
	n3.track(t, "cache", "--meta", "port=6379")
	b.waitRows(t, "members", "three members", func(rs [][]string) bool { return len(rs) == 3 })
	b.waitRows(t, "services", "every service", func(rs [][]string) bool {
		return len(rs) == 7 && hasRow(rs, "cache", n3.node()) && hasRow(rs, "postgres", n2.node()) &&
			hasRow(rs, "metrics", n1.node(), fmt.Sprintf("127.0.0.1:%d", p1), "port=9100", "pending (not advertised)") &&
			hasRow(rs, "web", n1.node(), fmt.Sprintf("127.0.0.1:%d", p1), "port=443", "passing")
	})
	img, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(img))
	if err != nil || cfg.Width < 900 {
		t.Fatalf("screenshot: %v, %dx%d", err, cfg.Width, cfg.Height)
	}
	if *updateScreenshot {
		path := filepath.Join("..", "..", "docs", "web.png")
		if err := os.WriteFile(path, img, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%dx%d, %d bytes)", path, cfg.Width, cfg.Height, len(img))
	}
	if s := strings.Join(column(b.rows(t, "members"), 0), " "); !strings.Contains(s, "(this agent)") {
		t.Errorf("members %q: this agent not marked", s)
	}
	b.noExceptions(t)
}

// TestWebPageServedByAgent checks the page as the agent's HTTP listener
// serves it: headers, and GET only.
func TestWebPageServedByAgent(t *testing.T) {
	t.Parallel()
	p := freePort(t)
	_, api := startHTTPAgent(t, "solo", p, hostfileOf(t, p))
	tests := []struct {
		method   string
		wantCode int
	}{
		{method: http.MethodGet, wantCode: http.StatusOK},
		{method: http.MethodHead, wantCode: http.StatusOK},
		{method: http.MethodPost, wantCode: http.StatusMethodNotAllowed},
		{method: http.MethodPut, wantCode: http.StatusMethodNotAllowed},
		{method: http.MethodDelete, wantCode: http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		code, hdr, body := api.do(tt.method, "/", "{}")
		if code != tt.wantCode {
			t.Errorf("%s / = %d %s, want %d", tt.method, code, body, tt.wantCode)
		}
		if tt.wantCode != http.StatusOK {
			continue
		}
		csp := hdr.Get("Content-Security-Policy")
		if !strings.HasPrefix(csp, "default-src 'self'; script-src 'sha256-") || hdr.Get("X-Content-Type-Options") != "nosniff" ||
			hdr.Get("Content-Type") != "text/html; charset=utf-8" {
			t.Errorf("%s / headers: %v", tt.method, hdr)
		}
	}
}
