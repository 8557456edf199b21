package lab

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// zeroconfBrowser is a python3-zeroconf DNS-SD browser: it browses
// argv[2] on the interface of argv[1] and prints one JSON line per
// instance added, updated (resolved: port, addresses, TXT) or removed.
const zeroconfBrowser = `
import json, sys
from zeroconf import ServiceBrowser, ServiceStateChange, Zeroconf
def out(d): print(json.dumps(d), flush=True)
def changed(zeroconf, service_type, name, state_change):
    if state_change is ServiceStateChange.Removed:
        out({"event": "remove", "name": name}); return
    info = zeroconf.get_service_info(service_type, name, timeout=3000)
    if info is None:
        out({"event": "unresolved", "name": name}); return
    txt = {k.decode(): (v or b"").decode() for k, v in info.properties.items()}
    out({"event": "add", "name": name, "port": info.port, "server": info.server,
         "addrs": info.parsed_addresses(), "txt": txt})
zc = Zeroconf(interfaces=[sys.argv[1]])
ServiceBrowser(zc, sys.argv[2], handlers=[changed])
sys.stdin.read()
zc.close()
`

// DNSSDInstance is an instance a [Browser] resolved.
type DNSSDInstance struct {
	Name   string            `json:"name"` // full name: INSTANCE._TYPE._tcp.local.
	Port   int               `json:"port"`
	Server string            `json:"server"`
	Addrs  []string          `json:"addrs"`
	TXT    map[string]string `json:"txt"`
}

// Browser is an independent DNS-SD browser (python3-zeroconf, run with
// /usr/bin/python3) in a lab host: it holds the instances it sees live.
type Browser struct {
	mu      sync.Mutex
	live    map[string]DNSSDInstance
	removed map[string]time.Time // when each was last removed
	log     strings.Builder
}

// BrowseDNSSD starts a Browser of service type typ (such as
// "_web._tcp.local.") in h, stopped at the end of the test. It skips
// the test (fails it under CI=true) without python3-zeroconf.
func BrowseDNSSD(tb testing.TB, h *Host, typ string) *Browser {
	tb.Helper()
	if err := h.Command(context.Background(), "/usr/bin/python3", "-c", "import zeroconf").Run(); err != nil {
		SkipOrFail(tb, "python3-zeroconf not installed (Debian: apt install python3-zeroconf)")
	}
	cmd := h.Command(context.Background(), "/usr/bin/python3", "-c", zeroconfBrowser, h.Addr.String(), typ)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	b := &Browser{live: map[string]DNSSDInstance{}, removed: map[string]time.Time{}}
	if err := h.Start(cmd); err != nil {
		tb.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.read(stdout)
	}()
	tb.Cleanup(func() {
		stdin.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			(&proc{cmd: cmd}).kill()
			<-done
		}
		cmd.Wait()
	})
	return b
}

// read records the browser's events until its output ends.
func (b *Browser) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var ev struct {
			Event string `json:"event"`
			DNSSDInstance
		}
		now := time.Now()
		b.mu.Lock()
		fmt.Fprintf(&b.log, "%s %s\n", now.Format("15:04:05.000"), sc.Text())
		if json.Unmarshal(sc.Bytes(), &ev) == nil {
			switch ev.Event {
			case "add":
				b.live[ev.Name] = ev.DNSSDInstance
				delete(b.removed, ev.Name)
			case "remove":
				delete(b.live, ev.Name)
				b.removed[ev.Name] = now
			}
		}
		b.mu.Unlock()
	}
}

// Live returns the instances the browser sees, by full name.
func (b *Browser) Live() map[string]DNSSDInstance {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[string]DNSSDInstance, len(b.live))
	for k, v := range b.live {
		out[k] = v
	}
	return out
}

// Removed returns when the browser last saw name go, if it did.
func (b *Browser) Removed(name string) (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.removed[name]
	return t, ok
}

// Log returns what the browser printed, with times.
func (b *Browser) Log() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.log.String()
}
