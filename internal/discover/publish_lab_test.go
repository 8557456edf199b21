//go:build linux

package discover

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// seen checks that b sees exactly the instances want (by full name).
func seen(b *lab.Browser, want map[string]lab.DNSSDInstance) func() error {
	return func() error {
		got := b.Live()
		if diff := cmp.Diff(want, got); diff != "" {
			return fmt.Errorf("browser sees (-want +got):\n%s", diff)
		}
		return nil
	}
}

// TestLabPublishSeenByZeroconf: python3-zeroconf in another host sees the
// published _web._tcp instances with their port, address and TXT, sees
// one go when it is withdrawn and the other when the agent closes.
func TestLabPublishSeenByZeroconf(t *testing.T) {
	t.Parallel()
	l := lab.New(t, lab.Config{Hosts: 2})
	browser := lab.BrowseDNSSD(t, l.Hosts[1], "_web._tcp.local.")
	a, _ := startLabAgent(t, l.Hosts[0], "a", "test")
	host := hostName(announcement{addr: a.cfg.Addr})
	one := Instance{Name: "a@1", Service: "web", Port: 8080, TXT: []string{"port=8080", "zone=x y"}}
	two := Instance{Name: "a@1 (session-1)", Service: "web", Port: 8081, TXT: []string{"port=8081"}}
	if err := a.Publish([]Instance{one, two}); err != nil {
		t.Fatal(err)
	}
	addr := []string{l.Hosts[0].Addr.String()}
	want := map[string]lab.DNSSDInstance{
		"a@1._web._tcp.local.":             {Name: "a@1._web._tcp.local.", Port: 8080, Server: host, Addrs: addr, TXT: map[string]string{"port": "8080", "zone": "x y"}},
		"a@1 (session-1)._web._tcp.local.": {Name: "a@1 (session-1)._web._tcp.local.", Port: 8081, Server: host, Addrs: addr, TXT: map[string]string{"port": "8081"}},
	}
	lab.Eventually(t, 10*time.Second, "the browser resolving both", seen(browser, want))

	if err := a.Publish([]Instance{one}); err != nil {
		t.Fatal(err)
	}
	withdrawn := time.Now()
	delete(want, "a@1 (session-1)._web._tcp.local.")
	lab.Eventually(t, 5*time.Second, "the browser losing the withdrawn one", seen(browser, want))
	gone, _ := browser.Removed("a@1 (session-1)._web._tcp.local.")
	t.Logf("withdrawn to removed in the browser: %v", gone.Sub(withdrawn))

	a.Close()
	lab.Eventually(t, 5*time.Second, "the browser losing the last one at Close", seen(browser, map[string]lab.DNSSDInstance{}))
	if t.Failed() {
		t.Log(browser.Log())
	}
}

// TestPublishRejects: instances that cannot be published are an error
// and change nothing.
func TestPublishRejects(t *testing.T) {
	a := &Agent{pub: map[string]Instance{}, fresh: map[string]bool{}, kick: make(chan struct{}, 1)}
	ok := Instance{Name: "n", Service: "web", Port: 80}
	tooMany := slices.Repeat([]Instance{ok}, MaxPublished+1)
	for i := range tooMany {
		tooMany[i].Name = fmt.Sprint(i)
	}
	for name, set := range map[string][]Instance{
		"bad_service": {{Name: "n", Service: "_web", Port: 80}},
		"no_port":     {{Name: "n", Service: "web"}},
		"long_name":   {{Name: string(make([]byte, 64)), Service: "web", Port: 80}},
		"long_txt":    {{Name: "n", Service: "web", Port: 80, TXT: []string{string(make([]byte, 256))}}},
		"too_many":    tooMany,
	} {
		t.Run(name, func(t *testing.T) {
			if err := a.Publish(set); err == nil {
				t.Error("Publish succeeded, want an error")
			}
			if len(a.pub) != 0 {
				t.Errorf("published %v after an error", slices.Collect(maps.Keys(a.pub)))
			}
		})
	}
}
