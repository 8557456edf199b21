//go:build linux

package sdjoincmd

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// publishBound is how soon after a service leaves a DNS-SD browser must
// lose it: the goodbye goes out at once.
const publishBound = 2 * time.Second

// sees checks that b sees exactly the instances want.
func sees(b *lab.Browser, want ...lab.DNSSDInstance) func() error {
	return func() error {
		w := map[string]lab.DNSSDInstance{}
		for _, in := range want {
			w[in.Name] = in
		}
		if diff := cmp.Diff(w, b.Live()); diff != "" {
			return fmt.Errorf("browser sees (-want +got):\n%s", diff)
		}
		return nil
	}
}

// webInstance is what a browser resolves for the agent's service web
// (type typ) at port with TXT txt.
func webInstance(a *labAgent, typ string, port int, txt map[string]string) lab.DNSSDInstance {
	addr := a.host.Addr.String()
	return lab.DNSSDInstance{
		Name:   a.node(a.host.Addr) + "." + typ,
		Port:   port,
		Server: "sdjoin-" + strings.ReplaceAll(addr, ".", "-") + ".local.",
		Addrs:  []string{addr},
		TXT:    txt,
	}
}

// cli runs an sdjoin client command against a and fails on an error.
func (a *labAgent) cli(t *testing.T, args ...string) {
	t.Helper()
	if code, _, errs := runCLI(context.Background(), append(args, "--socket", a.sock)...); code != 0 {
		t.Fatalf("sdjoin %v: exit %d: %s", args, code, errs)
	}
}

// TestLabPublishSeenByZeroconf: python3-zeroconf on another host sees the
// agent's service web (meta port) as a _web._tcp instance with its port,
// address and TXT, and loses it within publishBound of each untrack
// (median of several runs logged); the service without a port (svc) is
// not published.
func TestLabPublishSeenByZeroconf(t *testing.T) {
	t.Parallel()
	l := lab.New(t, lab.Config{Hosts: 2})
	browser := lab.BrowseDNSSD(t, l.Hosts[1], "_web._tcp.local.")
	others := lab.BrowseDNSSD(t, l.Hosts[1], "_svc._tcp.local.")
	a := startLabAgent(t, l.Hosts[0], "n1", filepath.Join(t.TempDir(), "none"), withDiscovery,
		"--track", "web", "--meta", "port=8080", "--meta", "zone=a b")
	web := webInstance(a, "_web._tcp.local.", 8080, map[string]string{"port": "8080", "zone": "a b"})
	lab.Eventually(t, 10*time.Second, "the browser resolving web", sees(browser, web))

	var took []time.Duration
	for range 5 {
		left := time.Now() // the untrack request: its reply may come after the goodbye
		a.cli(t, "untrack", "web")
		lab.Eventually(t, publishBound, "the browser losing web", sees(browser))
		gone, _ := browser.Removed(web.Name)
		took = append(took, gone.Sub(left))
		a.cli(t, "track", "web", "--meta", "port=8080", "--meta", "zone=a b")
		lab.Eventually(t, 10*time.Second, "the browser resolving web again", sees(browser, web))
	}
	slices.Sort(took)
	t.Logf("service leaving to browser losing it: median %v (min %v, max %v)", took[len(took)/2], took[0], took[len(took)-1])
	if err := sees(others)(); err != nil {
		t.Errorf("svc has no port and must not be published: %v", err)
	}
}

// TestLabPublishFollowsChecks: an entry withdrawn by a failing check is
// withdrawn from DNS-SD, and published again when it passes.
func TestLabPublishFollowsChecks(t *testing.T) {
	t.Parallel()
	l := lab.New(t, lab.Config{Hosts: 2})
	browser := lab.BrowseDNSSD(t, l.Hosts[1], "_api._tcp.local.")
	flag := filepath.Join(t.TempDir(), "healthy")
	if err := os.WriteFile(flag, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	a := startLabAgent(t, l.Hosts[0], "n1", filepath.Join(t.TempDir(), "none"), withDiscovery,
		"--track", "api", "--meta", "port=9000", "--check", "exec:test -e "+flag, "--check-interval", "100ms")
	api := webInstance(a, "_api._tcp.local.", 9000, map[string]string{"port": "9000"})
	lab.Eventually(t, 10*time.Second, "the browser resolving api", sees(browser, api))
	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	lab.Eventually(t, 5*time.Second, "the browser losing api after its check failed", sees(browser))
	if err := os.WriteFile(flag, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	lab.Eventually(t, 10*time.Second, "the browser resolving api again", sees(browser, api))
}

// TestLabPublishBesideAvahi: with avahi-daemon on the same host
// publishing _web._tcp too, a browser sees both instances, the agent's
// goes at SIGTERM and avahi's stays, and avahi keeps running.
func TestLabPublishBesideAvahi(t *testing.T) {
	t.Parallel()
	lab.NeedTools(t, "avahi-daemon")
	l := lab.New(t, lab.Config{Hosts: 2})
	if err := l.Hosts[0].StartAvahi("host1", lab.Service{Type: "_web._tcp", Port: 80}); err != nil {
		t.Fatal(err)
	}
	browser := lab.BrowseDNSSD(t, l.Hosts[1], "_web._tcp.local.")
	a := startLabAgent(t, l.Hosts[0], "n1", filepath.Join(t.TempDir(), "none"), withDiscovery,
		"--track", "web", "--meta", "port=8080")
	web := webInstance(a, "_web._tcp.local.", 8080, map[string]string{"port": "8080"})
	avahiSeen := func() error {
		if in, ok := browser.Live()["host1._web._tcp.local."]; !ok || in.Port != 80 || in.Server != "host1.local." {
			return fmt.Errorf("avahi's instance seen as %+v", in)
		}
		return nil
	}
	both := func() error {
		if in := browser.Live()[web.Name]; !cmp.Equal(in, web) {
			return fmt.Errorf("the agent's instance seen as %+v, want %+v", in, web)
		}
		return avahiSeen()
	}
	lab.Eventually(t, 10*time.Second, "the browser resolving both", both)
	a.cmd.Process.Signal(os.Interrupt)
	lab.Eventually(t, publishBound+shutdownBound, "the browser losing the agent's at its exit", func() error {
		if _, ok := browser.Live()[web.Name]; ok {
			return fmt.Errorf("%s still seen", web.Name)
		}
		return nil
	})
	if err := avahiSeen(); err != nil {
		t.Error(err)
	}
	lab.Shell(t, l.Hosts[0], "pgrep -x avahi-daemon >/dev/null")
}

// TestLabNoPublish: with --no-publish the agent announces itself but
// publishes no service.
func TestLabNoPublish(t *testing.T) {
	t.Parallel()
	l := lab.New(t, lab.Config{Hosts: 2})
	browser := lab.BrowseDNSSD(t, l.Hosts[1], "_web._tcp.local.")
	rec := listen(t, l.Hosts[1])
	a := startLabAgent(t, l.Hosts[0], "n1", filepath.Join(t.TempDir(), "none"), withDiscovery, "--no-publish",
		"--track", "web", "--meta", "port=8080")
	lab.Eventually(t, 5*time.Second, "the agent announced", func() error {
		return rec.heard(a.node(a.host.Addr), netip.AddrPortFrom(a.host.Addr, 7946))
	})
	// Publishing would announce with the agent; check through its
	// repeated announcements (up to 3 s after start).
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if err := sees(browser)(); err != nil {
			t.Fatalf("--no-publish: %v", err)
		}
	}
}

// TestLabPublishOnlyOwn: two agents of one cluster, each tracking web,
// see each other's entry, yet each publishes only its own: a browser on a
// third host sees exactly the two providers at their own hosts, and only
// the live one after the other stops.
func TestLabPublishOnlyOwn(t *testing.T) {
	t.Parallel()
	l := lab.New(t, lab.Config{Hosts: 3})
	browser := lab.BrowseDNSSD(t, l.Hosts[2], "_web._tcp.local.")
	agents, nodes, _ := startDiscoveringAgents(t, l.Hosts[:2], func(i int) []string {
		return []string{"--track", "web", "--meta", fmt.Sprintf("port=%d", 8080+i)}
	})
	waitAll(t, agents, 30*time.Second, nodes...)
	w1 := webInstance(agents[0], "_web._tcp.local.", 8080, map[string]string{"port": "8080"})
	w2 := webInstance(agents[1], "_web._tcp.local.", 8081, map[string]string{"port": "8081"})
	lab.Eventually(t, 10*time.Second, "the browser resolving both providers", sees(browser, w1, w2))
	if got := agents[0].listService(t, "web"); len(got) != 2 {
		t.Fatalf("n1 lists web on %v, want both nodes", got)
	}
	agents[1].cmd.Process.Signal(os.Interrupt)
	lab.Eventually(t, publishBound+shutdownBound, "the browser seeing only the live provider", sees(browser, w1))
}
