package check

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
)

// runTCP passes when a TCP connection to addr succeeds.
func runTCP(ctx context.Context, addr string) Result {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return Result{Output: clean(err.Error())}
	}
	defer c.Close()
	return Result{Pass: true, Output: clean("connected to " + c.RemoteAddr().String())}
}

// httpClient makes one fresh connection per check (no keep-alives, no
// proxy) and does not follow redirects: a 3xx is an answer.
var httpClient = &http.Client{
	Transport: &http.Transport{
		DialContext:       (&net.Dialer{}).DialContext,
		DisableKeepAlives: true,
	},
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// runHTTP passes when a GET of url answers 2xx or 3xx. It reads at most
// MaxOutput bytes of the body.
func runHTTP(ctx context.Context, url string) Result {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Result{Output: clean(err.Error())}
	}
	req.Header.Set("User-Agent", "sdjoin-health-check")
	resp, err := httpClient.Do(req)
	if err != nil {
		return Result{Output: clean(err.Error())}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, MaxOutput))
	out := "HTTP " + resp.Status
	if b := strings.TrimSpace(string(body)); b != "" {
		out += ": " + b
	}
	pass := resp.StatusCode >= 200 && resp.StatusCode < 400
	return Result{Pass: pass, Output: clean(out)}
}
