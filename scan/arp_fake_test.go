package scan

import (
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"
)

// fakeHost answers ARP requests for one address on a fakeLAN.
type fakeHost struct {
	mac   net.HardwareAddr
	delay time.Duration // before each reply
	drop  int           // replies lost before the first that arrives
	loss  float64       // chance of losing any reply
}

// fakeLAN is a net.PacketConn on a simulated Ethernet: the frames written
// to it are ARP requests, and its hosts answer them after their delay. Like
// a packet socket, it also returns our own frames.
type fakeLAN struct {
	*fakeReader[[]byte]
	mac net.HardwareAddr

	mu         sync.Mutex
	hosts      map[netip.Addr][]*fakeHost
	asked      map[netip.Addr]int
	sent       []netip.Addr // the targets of the requests, in order
	sendTimes  []time.Time
	rng        *rand.Rand
	writeErr   error
	failWrites int // the next writes that fail with failErr
	failErr    error
	failTimes  []time.Time
	sendCost   time.Duration // each write blocks this long: a busy CPU
	stallAt    int           // the write after this many blocks for stall: a descheduled sender
	stall      time.Duration
	pending    []*time.Timer // replies on their way
	timers     sync.WaitGroup
}

func newFakeLAN(mac net.HardwareAddr) *fakeLAN {
	return &fakeLAN{
		fakeReader: newFakeReader[[]byte](1 << 16),
		mac:        mac,
		hosts:      map[netip.Addr][]*fakeHost{},
		asked:      map[netip.Addr]int{},
		rng:        rand.New(rand.NewPCG(1, 2)),
	}
}

func (l *fakeLAN) add(addr string, h *fakeHost) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a := netip.MustParseAddr(addr)
	l.hosts[a] = append(l.hosts[a], h)
}

func (l *fakeLAN) askedFor(addr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.asked[netip.MustParseAddr(addr)]
}

// inject delivers a frame as if it came from the wire.
func (l *fakeLAN) inject(frame []byte) { l.in <- frame }

func (l *fakeLAN) ReadFrom(b []byte) (int, net.Addr, error) {
	f, err := l.read()
	return copy(b, f), nil, err
}

func (l *fakeLAN) WriteTo(b []byte, _ net.Addr) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.writeErr != nil {
		return 0, l.writeErr
	}
	if l.failWrites > 0 {
		l.failWrites--
		l.failTimes = append(l.failTimes, time.Now())
		return 0, l.failErr
	}
	if len(b) != 60 { // 42, padded to Ethernet's minimum
		return 0, errors.New("fake: not an ARP request")
	}
	if l.sendCost > 0 {
		busy(l.sendCost)
	}
	if l.stall > 0 && len(l.sent) == l.stallAt {
		time.Sleep(l.stall)
	}
	l.in <- append([]byte(nil), b...) // our own request comes back
	target := netip.AddrFrom4([4]byte(b[38:42]))
	sender := netip.AddrFrom4([4]byte(b[28:32]))
	l.asked[target]++
	l.sent = append(l.sent, target)
	l.sendTimes = append(l.sendTimes, time.Now())
	for _, h := range l.hosts[target] {
		if h.drop > 0 {
			h.drop--
			continue
		}
		if h.loss > 0 && l.rng.Float64() < h.loss {
			continue
		}
		reply := arpFrame(2, h.mac, target, l.mac, sender)
		l.timers.Add(1)
		l.pending = append(l.pending, time.AfterFunc(h.delay, func() {
			defer l.timers.Done()
			select {
			case l.in <- reply:
			case <-l.close:
			}
		}))
	}
	return len(b), nil
}

func (l *fakeLAN) Close() error {
	l.fakeReader.Close()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, t := range l.pending {
		if t.Stop() { // false once stopped: Done runs once per timer
			l.timers.Done()
		}
	}
	return nil
}

func (l *fakeLAN) LocalAddr() net.Addr { return nil }

// busy spins for d, as a write that costs CPU time would take.
func busy(d time.Duration) {
	for start := time.Now(); time.Since(start) < d; {
	}
}

// arpFrame builds an Ethernet frame holding an ARP packet.
func arpFrame(op byte, sha net.HardwareAddr, spa netip.Addr, tha net.HardwareAddr, tpa netip.Addr) []byte {
	f := make([]byte, 42)
	copy(f[0:6], tha)
	copy(f[6:12], sha)
	f[12], f[13] = 0x08, 0x06
	f[15] = 1
	f[16] = 0x08
	f[18], f[19] = 6, 4
	f[21] = op
	copy(f[22:28], sha)
	s, t := spa.As4(), tpa.As4()
	copy(f[28:32], s[:])
	copy(f[32:38], tha)
	copy(f[38:42], t[:])
	return f
}
