package scan

import (
	"context"
	"net"
	"net/netip"

	"github.com/miekg/dns"
)

// LookupMDNS opens mDNS sockets on ifi, looks names up and closes them.
// See [MDNSBrowser.Lookup].
func LookupMDNS(ctx context.Context, ifi *net.Interface, names []string, cfg *MDNSConfig) (map[string][]netip.Addr, error) {
	return dialDo(func() (*MDNSBrowser, error) { return DialMDNS(ifi) },
		func(b *MDNSBrowser) (map[string][]netip.Addr, error) { return b.Lookup(ctx, names, cfg) })
}

// Lookup asks the link's mDNS responders for the IPv4 addresses (A
// records) of host names such as "nas.local", all in one query, sent a
// second time for names without an answer. It returns the addresses found
// by name as given (names without an answer are absent), at most 8 per
// name, after cfg.Timeout or once every name has an answer or the link
// has gone quiet. Names that are not valid host names are skipped. When
// ctx ends first it returns what it found and ctx.Err(). Lookup changes
// the connection's read deadline.
func (b *MDNSBrowser) Lookup(ctx context.Context, names []string, cfg *MDNSConfig) (map[string][]netip.Addr, error) {
	br := newBrowse(b, cfg)
	br.lookup = true
	want := map[string]string{} // normalised -> as given
	for _, n := range names {
		if h, ok := hostName(n); ok {
			want[h] = n
			br.ask(question(h+".", dns.TypeA))
		}
	}
	if len(want) == 0 {
		return map[string][]netip.Addr{}, nil
	}
	rd := b.startReading()
	_, err := br.run(ctx, nil, rd)
	b.stopReading(rd, br.log)
	found := make(map[string][]netip.Addr, len(want))
	for h, n := range want {
		if addrs := br.state.nameAddrs[h]; len(addrs) > 0 {
			found[n] = append([]netip.Addr(nil), addrs...)
		}
	}
	return found, err
}

// allAnswered reports whether every question of a lookup has an answer.
func (br *browse) allAnswered() bool {
	for q := range br.asked {
		if !br.state.answered(q) {
			return false
		}
	}
	return true
}

// lookupDone reports whether a lookup may end now.
func (br *browse) lookupDone() bool { return br.lookup && br.allAnswered() }
