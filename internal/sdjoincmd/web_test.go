package sdjoincmd

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// inline returns the contents of the one <tag>...</tag> of body.
func inline(t *testing.T, body, tag string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<`+tag+`>(.*?)</`+tag+`>`).FindAllStringSubmatch(body, -1)
	if len(m) != 1 {
		t.Fatalf("page has %d <%s> elements, want 1", len(m), tag)
	}
	return m[0][1]
}

func hashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

func TestWebHandlerHeaders(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer((*agent)(nil).webHandler())
	t.Cleanup(srv.Close)

	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	body := string(b)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET / = %s", resp.Status)
	}
	for h, want := range map[string]string{
		"Content-Type":           "text/html; charset=utf-8",
		"X-Content-Type-Options": "nosniff",
		"X-Frame-Options":        "DENY",
		"Referrer-Policy":        "no-referrer",
	} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{
		"default-src 'self'",
		"script-src " + hashOf(inline(t, body, "script")) + ";",
		"style-src " + hashOf(inline(t, body, "style")) + ";",
		"object-src 'none'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
	} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("Content-Security-Policy %q allows something unsafe", csp)
	}
	for _, bad := range []string{"{{", "http://", "https://", "<script src", "<link"} {
		if strings.Contains(body, bad) {
			t.Errorf("page holds %q: it must be self-contained", bad)
		}
	}
}

func TestWebHandlerMethods(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer((*agent)(nil).webHandler())
	t.Cleanup(srv.Close)
	tests := []struct {
		method    string
		wantCode  int
		wantBody  bool
		wantAllow string
	}{
		{method: http.MethodGet, wantCode: http.StatusOK, wantBody: true},
		{method: http.MethodHead, wantCode: http.StatusOK},
		{method: http.MethodPost, wantCode: http.StatusMethodNotAllowed, wantAllow: "GET, HEAD"},
		{method: http.MethodPut, wantCode: http.StatusMethodNotAllowed, wantAllow: "GET, HEAD"},
		{method: http.MethodDelete, wantCode: http.StatusMethodNotAllowed, wantAllow: "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(strings.ToLower(tt.method), func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.URL+"/", strings.NewReader("x"))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantCode {
				t.Errorf("%s / = %s, want %d", tt.method, resp.Status, tt.wantCode)
			}
			if got := strings.Contains(string(b), "<html"); got != tt.wantBody {
				t.Errorf("%s / body has the page: %v, want %v", tt.method, got, tt.wantBody)
			}
			if got := resp.Header.Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow = %q, want %q", got, tt.wantAllow)
			}
			if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q", got)
			}
		})
	}
}

// TestWebScriptWritesText checks that the page's script never parses
// markup: names and meta come from other machines.
func TestWebScriptWritesText(t *testing.T) {
	t.Parallel()
	js, err := webFiles.ReadFile("web/app.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "setAttribute('on", "createContextualFragment", "DOMParser"} {
		if strings.Contains(string(js), sink) {
			t.Errorf("web/app.js uses %s: write data with textContent", sink)
		}
	}
}

// fakeAPI serves the page and the API it reads (/v1/members,
// /v1/services, /v1/events) from state the test sets: the page's own
// logic, tested without a cluster. TestWebPageChromium runs it against
// real agents.
type fakeAPI struct {
	mu        sync.Mutex
	members   []record // the local one first
	entries   map[visKey]record
	withdrawn []record                 // listed by /v1/services only: this agent's entries its checks withdrew
	streams   map[chan string]struct{} // the data of each stream's messages
	url       string
}

func newFakeAPI(t *testing.T, members ...record) *fakeAPI {
	f := &fakeAPI{members: members, entries: map[visKey]record{}, streams: map[chan string]struct{}{}}
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", (*agent)(nil).webHandler())
	mux.HandleFunc("GET /v1/members", func(w http.ResponseWriter, r *http.Request) { writeFakeJSON(w, f.members) })
	mux.HandleFunc("GET /v1/services", func(w http.ResponseWriter, r *http.Request) { writeFakeJSON(w, f.list(r.FormValue("local") == "true")) })
	mux.HandleFunc("GET /v1/events", f.events)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { f.drop(); srv.Close() })
	f.url = srv.URL
	return f
}

func writeFakeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

// list returns what /v1/services lists, or with local ?local=true:
// this agent's entries, withdrawn ones included.
func (f *fakeAPI) list(local bool) []record {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := slices.Collect(maps.Values(f.entries))
	if local {
		out = slices.DeleteFunc(append(out, f.withdrawn...), func(r record) bool { return !r.Local })
	}
	sortRecords(out)
	return out
}

// events streams the entries and the remote members as joins, then
// every change, until the client goes or drop ends the stream.
func (f *fakeAPI) events(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream")
	ch := make(chan string, 64)
	f.mu.Lock()
	var replay []record
	for _, e := range f.entries {
		e.Event, e.State, e.Checks = evJoin, "", nil
		replay = append(replay, e)
	}
	sortRecords(replay)
	for _, m := range f.members[1:] {
		m.Event, m.State = evMemberJoin, "" // the state only through /v1/members
		replay = append(replay, m)
	}
	f.streams[ch] = struct{}{}
	f.mu.Unlock()
	fmt.Fprint(w, "retry: 100\n\n")
	for _, rec := range replay {
		fmt.Fprintf(w, "data: %s\n\n", recordJSON(rec))
	}
	w.(http.Flusher).Flush()
	for {
		select {
		case data, ok := <-ch:
			if !ok {
				return
			}
			fmt.Fprintf(w, "data: %s\n\n", data)
			w.(http.Flusher).Flush()
		case <-r.Context().Done():
			f.mu.Lock()
			delete(f.streams, ch)
			f.mu.Unlock()
			return
		}
	}
}

func recordJSON(r record) string {
	b, _ := json.Marshal(r)
	return string(b)
}

// set changes an entry without telling the streams (what a client
// misses while disconnected); publish tells them.
func (f *fakeAPI) set(e record, present bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := visKey{e.Service, e.Node, e.Key}
	if present {
		f.entries[k] = e
	} else {
		delete(f.entries, k)
	}
}

func (f *fakeAPI) publish(event string, e record) {
	f.set(e, event == evJoin)
	e.Event, e.State, e.Checks = event, "", nil
	f.publishRaw(recordJSON(e))
}

// publishRaw sends data (one line) as a message to every stream.
func (f *fakeAPI) publishRaw(data string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.streams {
		ch <- data
	}
}

// drop ends every stream, as an agent restart would.
func (f *fakeAPI) drop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.streams {
		close(ch)
		delete(f.streams, ch)
	}
}

func TestWebPageFakeAPI(t *testing.T) {
	t.Parallel()
	addr := func(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
	local := record{Node: "a@192.0.2.1", Addr: addr("192.0.2.1:7946"), Local: true}
	peer := record{Node: "b@192.0.2.2", Addr: addr("192.0.2.2:7946"), State: "suspect"}
	f := newFakeAPI(t, local, peer)
	f.set(record{Service: "db", Key: trackKey, Node: local.Node, Addr: local.Addr, Meta: map[string]string{"port": "5432"},
		Local: true, State: "warning", Checks: []checkRecord{{Check: "tcp:127.0.0.1:5432", State: "warning", Output: "slow"}}}, true)
	f.withdrawn = []record{{Service: "cache", Key: trackKey, Node: local.Node, Meta: map[string]string{}, Local: true,
		State: "critical", Checks: []checkRecord{{Check: "tcp:127.0.0.1:6379", State: "critical"}}}}

	b := newBrowser(t, 1200, 900)
	b.open(t, f.url+"/")
	b.waitRows(t, "members", "both members, this agent marked", func(rs [][]string) bool {
		return slices.Equal(column(rs, 0), []string{"a@192.0.2.1 (this agent)", "b@192.0.2.2"}) &&
			hasRow(rs, "b@192.0.2.2", "192.0.2.2:7946", "suspect")
	})
	b.waitRows(t, "services", "db with its check state, cache withdrawn", func(rs [][]string) bool {
		return hasRow(rs, "db", local.Node, "192.0.2.1:7946", "port=5432", "warning") &&
			hasRow(rs, "cache", local.Node, "192.0.2.1:7946", "", "critical (not advertised)") && len(rs) == 2
	})

	web := record{Service: "web", Key: trackKey, Node: peer.Node, Addr: peer.Addr, Meta: map[string]string{"port": "80"}}
	f.publish(evJoin, web)
	b.waitRows(t, "services", "web after it joined", func(rs [][]string) bool { return hasRow(rs, "web", peer.Node, "192.0.2.2:7946", "port=80") })
	b.waitRows(t, "events", "the join of web logged, the replay not", func(rs [][]string) bool {
		return len(rs) == 1 && slices.Equal(rs[0][1:], []string{"join", "web", peer.Node, "192.0.2.2:7946 port=80"})
	})

	// A reconnect rebuilds the state: what changed meanwhile shows.
	f.set(web, false)
	f.set(record{Service: "mail", Key: trackKey, Node: peer.Node, Addr: peer.Addr}, true)
	f.drop()
	b.waitRows(t, "services", "the state of the new stream", func(rs [][]string) bool {
		return hasRow(rs, "mail", peer.Node) && !hasRow(rs, "web")
	})
	b.waitRows(t, "events", "the reconnect logged", func(rs [][]string) bool { return slices.Contains(column(rs, 1), "reconnected") })
	f.publish(evLeave, record{Service: "mail", Key: trackKey, Node: peer.Node, Addr: peer.Addr})
	b.waitRows(t, "services", "mail gone after its leave", func(rs [][]string) bool { return !hasRow(rs, "mail") })

	// Sorting: a click on Service reverses the order.
	f.publish(evJoin, web)
	b.waitRows(t, "services", "web back", func(rs [][]string) bool { return hasRow(rs, "web") })
	if err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS(`#services th[data-sort="service"] button`))); err != nil {
		t.Fatal(err)
	}
	b.waitRows(t, "services", "services sorted descending", func(rs [][]string) bool {
		return slices.Equal(column(rs, 0), []string{"web", "db", "cache"})
	})
	b.noExceptions(t)
}

// TestWebPageLarge checks the page at 50 nodes and 200 entries on a
// phone's screen: everything shown, no page-wide horizontal scrolling,
// and the event log capped, newest first.
func TestWebPageLarge(t *testing.T) {
	t.Parallel()
	members := []record{{Node: "n0@198.51.100.1", Addr: netip.MustParseAddrPort("198.51.100.1:7946"), Local: true}}
	for i := 1; i < 50; i++ {
		members = append(members, record{Node: fmt.Sprintf("node-with-a-long-name-%d@198.51.100.%d", i, i+1),
			Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(i + 1)}), 7946)})
	}
	f := newFakeAPI(t, members...)
	entry := func(i int) record {
		m := members[i%50]
		return record{Service: fmt.Sprintf("service-%02d", i%20), Key: fmt.Sprintf("k%d", i), Node: m.Node, Addr: m.Addr,
			Meta: map[string]string{"port": fmt.Sprint(8000 + i), "version": "1.2.3-with-a-long-build-tag"}}
	}
	for i := range 200 {
		f.set(entry(i), true)
	}

	b := newBrowser(t, 375, 812)
	if err := chromedp.Do(b.ctx, chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile)); err != nil {
		t.Fatal(err)
	}
	b.open(t, f.url+"/")
	b.waitRows(t, "services", "200 entries", func(rs [][]string) bool { return len(rs) == 200 })
	b.waitRows(t, "members", "50 members", func(rs [][]string) bool { return len(rs) == 50 })
	for id, want := range map[string]string{"members-count": "(50)", "services-count": "(200 providers, 20 services)", "events-count": "(0)"} {
		if got := eval[string](t, b, `document.getElementById('`+id+`').textContent`); got != want {
			t.Errorf("#%s = %q, want %q", id, got, want)
		}
	}
	if w := eval[int](t, b, `document.documentElement.scrollWidth`); w > 375 {
		t.Errorf("page is %d px wide on a 375 px screen: it scrolls sideways", w)
	}
	if right := eval[float64](t, b, `document.getElementById('filter').getBoundingClientRect().right`); right > 375 {
		t.Errorf("filter box ends at %v px, past the 375 px screen", right)
	}

	for i := 200; i < 450; i++ {
		f.publish(evJoin, entry(i))
	}
	b.waitRows(t, "events", "the last 200 events, newest first", func(rs [][]string) bool {
		return len(rs) == 200 && rs[0][2] == entry(449).Service && rs[0][4] == entry(449).Addr.String()+" port=8449 version=1.2.3-with-a-long-build-tag" &&
			rs[199][4] == entry(250).Addr.String()+" port=8250 version=1.2.3-with-a-long-build-tag"
	})
	b.noExceptions(t)
}

// TestWebPageHostileRecords feeds the page names built to be markup and
// records of the wrong shape: the names show as text, the tables hold
// only the page's own elements, nothing throws, and the page goes on.
func TestWebPageHostileRecords(t *testing.T) {
	t.Parallel()
	hostile := []string{
		`<img src=x onerror="document.title='pwned'">`,
		`"><svg onload=alert(1)>`,
		`<script>document.title='pwned'</script>`,
		`javascript:alert(1)`,
		`&lt;b&gt;entity&lt;/b&gt;`,
		`__proto__`,
		"\u202eevil\u202c",
	}
	local := record{Node: "a@192.0.2.1", Addr: netip.MustParseAddrPort("192.0.2.1:7946"), Local: true}
	f := newFakeAPI(t, local, record{Node: hostile[0], Addr: netip.MustParseAddrPort("192.0.2.2:7946")})
	b := newBrowser(t, 1000, 700)
	b.open(t, f.url+"/")

	for _, bad := range []string{
		`not json`, `null`, `[]`, `"join"`, `{"event":"join"}`, `{"event":"leave","service":{}}`,
		`{"event":"join","service":5,"node":["x"],"meta":"port=1","checks":"y"}`,
		`{"event":"join","service":"s","node":"n","meta":{"__proto__":{"polluted":"1"},"k":7}}`,
		`{"event":"member-join","node":null}`, `{"event":"no-such-event","service":"x"}`,
	} {
		f.publishRaw(bad)
	}
	for i, h := range hostile {
		f.publish(evJoin, record{Service: h, Key: h, Node: hostile[(i+1)%len(hostile)], Addr: local.Addr, Meta: map[string]string{h: h}})
	}
	f.publish(evJoin, record{Service: "after", Key: trackKey, Node: local.Node, Addr: local.Addr})
	b.waitRows(t, "services", "every hostile name as text, then after", func(rs [][]string) bool {
		for i, h := range hostile {
			if !hasRow(rs, h, hostile[(i+1)%len(hostile)], "192.0.2.1:7946", h+"="+h) {
				return false
			}
		}
		return hasRow(rs, "after", local.Node) && !slices.ContainsFunc(rs, func(r []string) bool { return r[0] == "" || r[1] == "" })
	})
	b.waitRows(t, "members", "the hostile member as text", func(rs [][]string) bool { return hasRow(rs, hostile[0], "192.0.2.2:7946") })
	if n := eval[int](t, b, `document.querySelectorAll('tbody *:not(tr, td, span.tag)').length`); n != 0 {
		t.Errorf("the tables hold %d elements the page did not make", n)
	}
	b.wait(t, "the title naming this agent (from its poll of /v1/members)", func() (bool, string) {
		got := eval[string](t, b, `document.title`)
		return got == "sdjoin a@192.0.2.1", got
	})
	if got := eval[string](t, b, `String(({}).polluted)`); got != "undefined" {
		t.Errorf("Object.prototype.polluted = %q, want undefined", got)
	}
	b.noExceptions(t)
}
