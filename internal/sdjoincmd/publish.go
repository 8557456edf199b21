package sdjoincmd

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/ipfinder-go/ipfinder/internal/discover"
)

// publisher is the hub handler that publishes this node's advertised
// entries whose meta has a port as DNS-SD instances, through the current
// discover.Agent (see doc.go, # Publishing).
type publisher struct {
	warn func(format string, args ...any)

	mu      sync.Mutex
	agent   *discover.Agent     // nil: discovery not running
	entries map[entryID]record  // this node's entries shown, by service and key
	warned  map[string]bool     // services warned about, once each
	last    []discover.Instance // the set last published
}

func newPublisher(warn func(string, ...any)) *publisher {
	return &publisher{warn: warn, entries: map[entryID]record{}, warned: map[string]bool{}}
}

// handle follows the joins and leaves of this node's entries. It runs
// with the hub's lock held and does not block (Publish does not).
func (p *publisher) handle(r record) {
	if !r.Local || r.Service == "" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	id := entryID{r.Service, r.Key}
	switch r.Event {
	case evJoin, evRename:
		p.entries[id] = r
	case evLeave:
		if p.entries[id].Node == r.Node {
			delete(p.entries, id)
		}
	default:
		return
	}
	p.publishLocked()
}

// attach makes a the agent publishing (nil: none), and publishes the
// current set through it.
func (p *publisher) attach(a *discover.Agent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.agent, p.last = a, nil
	p.publishLocked()
}

// publishLocked hands the current set to the agent. p.mu is held.
func (p *publisher) publishLocked() {
	set, warnings := instances(p.entries)
	for _, w := range warnings {
		if !p.warned[w.service] {
			p.warned[w.service] = true
			p.warn("warning: %s", w.msg)
		}
	}
	if p.agent == nil || (p.last != nil && slices.EqualFunc(set, p.last, sameInstance)) {
		return
	}
	if err := p.agent.Publish(set); err != nil { // instances checks the set first
		p.warn("warning: DNS-SD publishing: %v", err)
		return
	}
	p.last = set
}

func sameInstance(x, y discover.Instance) bool {
	return x.Name == y.Name && x.Service == y.Service && x.Port == y.Port && slices.Equal(x.TXT, y.TXT)
}

// notPublished is why the entries of a service are not published.
type notPublished struct{ service, msg string }

// instances returns the DNS-SD instances of entries, sorted, at most
// discover.MaxPublished: those of a valid DNS-SD service name with a
// port in their meta; and why others are not published.
func instances(entries map[entryID]record) ([]discover.Instance, []notPublished) {
	var out []discover.Instance
	var why []notPublished
	for _, id := range slices.SortedFunc(maps.Keys(entries), compareIDs) {
		r := entries[id]
		ps, ok := r.Meta["port"]
		if !ok {
			continue
		}
		port, err := strconv.ParseUint(ps, 10, 16)
		switch {
		case !discover.ValidServiceName(r.Service):
			why = append(why, notPublished{r.Service, fmt.Sprintf("service %q not published over DNS-SD: its name is not a DNS-SD service name (1 to 15 letters, digits and hyphens, one letter at least)", r.Service)})
		case err != nil || port == 0:
			why = append(why, notPublished{r.Service, fmt.Sprintf("service %q not published over DNS-SD: meta port %q is not a port number (1-65535)", r.Service, ps)})
		case len(out) == discover.MaxPublished:
			why = append(why, notPublished{r.Service, fmt.Sprintf("service %q not published over DNS-SD: %d instances published already", r.Service, discover.MaxPublished)})
		default:
			out = append(out, discover.Instance{Name: instanceName(r.Node, r.Key), Service: r.Service, Port: uint16(port), TXT: txt(r.Meta)})
		}
	}
	return out, why
}

func compareIDs(a, b entryID) int {
	return cmp.Or(cmp.Compare(a.service, b.service), cmp.Compare(a.key, b.key))
}

// instanceName is the DNS-SD instance name of the entry of node under
// key: the node name (NAME@IP) for the agent's own entries, "NODE (KEY)"
// for a session's, so two entries of one service on one node differ. A
// name over discover.MaxInstanceLabel bytes is cut (at a character
// boundary) and ends in a hash of the whole, to stay distinct.
func instanceName(node, key string) string {
	name := node
	if key != trackKey {
		name += " (" + key + ")"
	}
	if len(name) <= discover.MaxInstanceLabel {
		return name
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	sum := fmt.Sprintf("~%08x", h.Sum32())
	cut := discover.MaxInstanceLabel - len(sum)
	for cut > 0 && !utf8.RuneStart(name[cut]) {
		cut--
	}
	return name[:cut] + sum
}

// txt returns meta as DNS-SD TXT strings, "key=value", sorted; a pair
// over 255 bytes is left out.
func txt(meta map[string]string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(meta)) {
		if s := k + "=" + meta[k]; len(s) <= 255 {
			out = append(out, s)
		}
	}
	return out
}
