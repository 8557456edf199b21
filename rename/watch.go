package rename

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"
)

// Defaults for the zero values of Config.
const (
	DefaultDebounce = 2 * time.Second
	DefaultGrace    = 5 * time.Second
	DefaultPoll     = 30 * time.Second
)

// fallbackPoll is how often the addresses are read where no address
// events arrive (not Linux, or the netlink subscription is down).
const fallbackPoll = 2 * time.Second

// Config tunes a Watcher. A nil *Config applies the defaults.
type Config struct {
	// Interface restricts the identity to the addresses of this interface
	// ("eth0"). Empty means all interfaces.
	Interface string

	// Family pins the identity to IPv4 (4) or IPv6 (6). Zero allows both
	// and prefers IPv4 (see the package doc).
	Family int

	// Debounce is the quiet time after the last address event before the
	// addresses are read again, at most four times Debounce after the
	// first event. Zero means DefaultDebounce (DHCP renewals remove and
	// re-add addresses); negative means none.
	Debounce time.Duration

	// Grace is how long a missing identity is waited for, from the read
	// that first found it missing, before Change{Old, none} is reported.
	// A new address within Grace is reported as one Change{Old, New}.
	// Zero means DefaultGrace (busybox udhcpc takes 3 s to get a new
	// address after the server refuses the old one); negative means none.
	Grace time.Duration

	// Poll is the interval of a safety read of the addresses, for events
	// that netlink lost. Zero means DefaultPoll; negative means none.
	// Where address events are unavailable the addresses are read every
	// 2 s (or every Poll, if shorter) regardless.
	Poll time.Duration

	// Logger receives a record per change (Info), trouble with netlink
	// (Warn) and details (Debug); nil discards them.
	Logger *slog.Logger
}

// settings is a Config with the defaults applied.
type settings struct {
	iface    string
	family   int
	debounce time.Duration
	grace    time.Duration
	poll     time.Duration // 0: no safety poll
	log      *slog.Logger
}

func (c *Config) settings() (settings, error) {
	if c == nil {
		c = &Config{}
	}
	if c.Family != 0 && c.Family != 4 && c.Family != 6 {
		return settings{}, fmt.Errorf("rename: Config.Family is %d: want 0, 4 or 6", c.Family)
	}
	orDefault := func(d, def time.Duration) time.Duration {
		switch {
		case d == 0:
			return def
		case d < 0:
			return 0
		}
		return d
	}
	s := settings{
		iface:    c.Interface,
		family:   c.Family,
		debounce: orDefault(c.Debounce, DefaultDebounce),
		grace:    orDefault(c.Grace, DefaultGrace),
		poll:     orDefault(c.Poll, DefaultPoll),
		log:      c.Logger,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// choose applies the Interface and Family restrictions, then chooseAddr.
func (s *settings) choose(snap snapshot) netip.Addr {
	addrs := make([]ifaceAddr, 0, len(snap.addrs))
	for _, a := range snap.addrs {
		ip := a.Prefix.Addr().Unmap()
		if (s.iface != "" && a.Ifname != s.iface) ||
			(s.family == 4 && !ip.Is4()) || (s.family == 6 && !ip.Is6()) {
			continue
		}
		addrs = append(addrs, a)
	}
	def := snap.default6
	if s.family != 6 && snap.default4 != 0 {
		def = snap.default4
	}
	if s.family == 4 {
		def = snap.default4
	}
	return chooseAddr(addrs, def)
}

// snapshot is one read of this machine's addresses.
type snapshot struct {
	addrs              []ifaceAddr
	default4, default6 int // interface index of the default route, 0 if none
}

// source reads addresses and subscribes to address events; one per
// platform (addrs_linux.go, addrs_others.go).
type source interface {
	read() (snapshot, error)
	// subscribe starts address events. The channel receives a value
	// after events (coalesced) and is closed when the subscription ends;
	// stop ends it and waits. It returns errors.ErrUnsupported where
	// there are no address events.
	subscribe() (hints <-chan struct{}, stop func(), err error)
	close() error
}

// Change is a change of the identity address. Old is the zero
// netip.Addr when an address was gained with none before, New is the zero
// netip.Addr when the address was lost.
type Change struct {
	Old, New netip.Addr
}

// Watcher follows the identity address of this machine. Create it with
// Watch.
type Watcher struct {
	set     settings
	src     source
	d       decider
	changes chan Change
	closing chan struct{}
	once    sync.Once
	wg      sync.WaitGroup

	mu      sync.Mutex
	current netip.Addr
}

// Watch reads this machine's addresses, chooses the identity (see the
// package doc) and follows it until ctx is done or Close is called.
//
// Watch opens its netlink sockets in the network namespace of the calling
// OS thread and keeps using that namespace: to watch another namespace,
// call Watch from a goroutine locked to a thread in it
// (runtime.LockOSThread and netns.Set, or lab.Host.Do).
func Watch(ctx context.Context, cfg *Config) (*Watcher, error) {
	set, err := cfg.settings()
	if err != nil {
		return nil, err
	}
	src, err := openSource(set.log, set.family)
	if err != nil {
		return nil, err
	}
	return start(ctx, set, src)
}

// Identity reads this machine's addresses once and returns the identity
// that Watch would start with (see Choosing the identity in the package
// doc), the zero netip.Addr when there is none. Only cfg's Interface and
// Family are used; like Watch, it reads the calling thread's namespace.
func Identity(cfg *Config) (netip.Addr, error) {
	set, err := cfg.settings()
	if err != nil {
		return netip.Addr{}, err
	}
	src, err := openSource(set.log, set.family)
	if err != nil {
		return netip.Addr{}, err
	}
	defer src.close()
	snap, err := src.read()
	if err != nil {
		return netip.Addr{}, err
	}
	return set.choose(snap), nil
}

// start runs a Watcher on src, which it owns from now on.
func start(ctx context.Context, set settings, src source) (*Watcher, error) {
	snap, err := src.read()
	if err != nil {
		src.close()
		return nil, err
	}
	hints, stop, err := src.subscribe()
	switch {
	case errors.Is(err, errors.ErrUnsupported):
	case err != nil:
		set.log.Warn("rename: no address events, polling instead", "err", err)
	}
	w := &Watcher{
		set:     set,
		src:     src,
		d:       decider{debounce: set.debounce, grace: set.grace},
		changes: make(chan Change, 1),
		closing: make(chan struct{}),
	}
	w.d.current = set.choose(snap)
	w.current = w.d.current
	set.log.Debug("rename: watching", "identity", w.current)
	w.wg.Add(1)
	go w.run(ctx, hints, stop)
	return w, nil
}

// Current returns the identity address last reported (or found by Watch),
// the zero netip.Addr when there is none.
func (w *Watcher) Current() netip.Addr {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.current
}

// Changes returns the channel of identity changes. It holds one Change: if
// the reader is slow, changes merge into one with the Old of the first
// and the New of the last, and vanish when these are equal, so the latest
// state is never lost. The channel is closed when the Watcher stops.
func (w *Watcher) Changes() <-chan Change {
	return w.changes
}

// Close stops the Watcher and waits for its goroutines. It is idempotent
// and always returns nil.
func (w *Watcher) Close() error {
	w.once.Do(func() { close(w.closing) })
	w.wg.Wait()
	return nil
}

// run is the Watcher's one goroutine besides the subscription's.
func (w *Watcher) run(ctx context.Context, hints <-chan struct{}, stop func()) {
	defer w.wg.Done()
	defer close(w.changes)
	defer w.src.close()
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	nextPoll := time.Now().Add(w.pollInterval(hints != nil))
	for {
		wake := nextPoll
		if due, ok := w.d.next(); ok && due.Before(wake) {
			wake = due
		}
		timer.Reset(time.Until(wake))
		select {
		case <-ctx.Done():
			return
		case <-w.closing:
			return
		case _, ok := <-hints:
			if !ok {
				w.set.log.Warn("rename: address events ended, subscribing again")
				stop()
				hints, stop = w.subscribe()
			}
			w.d.event(time.Now())
			continue
		case <-timer.C:
		}
		now := time.Now()
		if !now.Before(nextPoll) {
			if stop == nil {
				hints, stop = w.subscribe()
			}
			w.d.poll(now)
			nextPoll = now.Add(w.pollInterval(hints != nil))
		}
		if due, ok := w.d.next(); ok && !now.Before(due) {
			w.check(now)
		}
	}
}

// subscribe starts address events, or returns nils to poll instead.
func (w *Watcher) subscribe() (<-chan struct{}, func()) {
	hints, stop, err := w.src.subscribe()
	if err != nil {
		if !errors.Is(err, errors.ErrUnsupported) {
			w.set.log.Warn("rename: no address events, polling", "err", err)
		}
		return nil, nil
	}
	return hints, stop
}

// pollInterval is the time between reads not caused by events.
func (w *Watcher) pollInterval(events bool) time.Duration {
	switch {
	case !events && (w.set.poll == 0 || w.set.poll > fallbackPoll):
		return fallbackPoll
	case w.set.poll == 0:
		return 100 * 365 * 24 * time.Hour
	}
	return w.set.poll
}

// check reads the addresses and reports a change of identity.
func (w *Watcher) check(now time.Time) {
	snap, err := w.src.read()
	if err != nil {
		w.set.log.Warn("rename: reading addresses", "err", err)
		w.d.retry(now.Add(max(w.set.debounce, time.Second)))
		return
	}
	c, ok := w.d.settle(now, w.set.choose(snap))
	if !ok {
		return
	}
	w.set.log.Info("rename: identity changed", "old", c.Old, "new", c.New)
	w.mu.Lock()
	w.current = c.New
	w.mu.Unlock()
	select {
	case pending := <-w.changes:
		c.Old = pending.Old
	default:
	}
	if c.Old != c.New {
		w.changes <- c // only run sends, and the buffer has room now
	}
}
