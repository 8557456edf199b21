package sdjoincmd

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"sync"
)

// webFiles holds the web page: index.html with the placeholders
// {{style}} and {{script}}, which page fills with style.css and app.js.
//
//go:embed web/index.html web/style.css web/app.js
var webFiles embed.FS

// webPage returns the page GET / serves, built once, by the first agent
// that serves HTTP (not at init: most agents never do): the HTML with its
// CSS and JavaScript inline, and the Content-Security-Policy that allows
// exactly those two by their hashes.
var webPage = sync.OnceValue(func() page { return mustBuildPage(webFiles) })

// page is a built web page.
type page struct {
	body []byte
	csp  string
}

// mustBuildPage builds the page from the embedded files; they are part
// of the binary, so an error is a bug caught by the tests.
func mustBuildPage(fsys embed.FS) page {
	p, err := buildPage(fsys)
	if err != nil {
		panic(err)
	}
	return p
}

func buildPage(fsys embed.FS) (page, error) {
	read := func(name string) ([]byte, error) { return fsys.ReadFile("web/" + name) }
	html, err := read("index.html")
	if err != nil {
		return page{}, err
	}
	css, err := read("style.css")
	if err != nil {
		return page{}, err
	}
	js, err := read("app.js")
	if err != nil {
		return page{}, err
	}
	for _, ph := range []string{"{{style}}", "{{script}}"} {
		if bytes.Count(html, []byte(ph)) != 1 {
			return page{}, fmt.Errorf("web/index.html: want one %s placeholder", ph)
		}
	}
	html = bytes.Replace(html, []byte("{{style}}"), css, 1)
	html = bytes.Replace(html, []byte("{{script}}"), js, 1)
	csp := "default-src 'self'; script-src " + sourceHash(js) + "; style-src " + sourceHash(css) +
		"; img-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	return page{body: html, csp: csp}, nil
}

// sourceHash returns the CSP source expression of an inline script or
// style: 'sha256-BASE64'.
func sourceHash(b []byte) string {
	sum := sha256.Sum256(b)
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// webHandler serves the web page (GET and HEAD only). The page reads
// /v1/members, /v1/services and /v1/events of the same listener; its
// script and style are allowed only by hash, and it writes data from the
// network only as text, never as markup.
func (a *agent) webHandler() http.Handler { return webPage() }

func (p page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed: the page is GET only", http.StatusMethodNotAllowed)
		return
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", p.csp)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Length", strconv.Itoa(len(p.body)))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(p.body)
}
