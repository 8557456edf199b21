//go:build linux

package lab

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/mdlayher/arp"
)

// StartSlowARP makes the host answer ARP requests for its address only after
// delay, as Wi-Fi devices in power save do. The kernel stops answering
// (net.ipv4.conf.eth0.arp_ignore=8) and a responder owned by the lab
// replies instead, until the lab closes. Requesters that give up before
// delay (Linux retries for about 3 s) never learn the address.
func (h *Host) StartSlowARP(delay time.Duration) error {
	var c *arp.Client
	err := h.Do(func() error {
		if err := writeSysctl("net/ipv4/conf/"+h.Iface+"/arp_ignore", "8"); err != nil {
			return err
		}
		ifi, err := net.InterfaceByName(h.Iface)
		if err != nil {
			return err
		}
		c, err = arp.Dial(ifi) // the socket stays in the host's namespace
		return err
	})
	if err != nil {
		return fmt.Errorf("lab: %s: slow ARP: %w", h.Name, err)
	}
	a := &slowARP{host: h, c: c, delay: delay, quit: make(chan struct{})}
	h.lab.mu.Lock()
	defer h.lab.mu.Unlock()
	if h.lab.closed {
		c.Close()
		return ErrClosed
	}
	for _, o := range h.lab.arps {
		if o.host == h {
			c.Close()
			return fmt.Errorf("lab: %s: slow ARP already started", h.Name)
		}
	}
	h.lab.arps = append(h.lab.arps, a)
	a.wg.Add(1)
	go a.serve()
	return nil
}

// slowARP answers ARP requests for one host after a delay.
type slowARP struct {
	host  *Host
	c     *arp.Client
	delay time.Duration
	quit  chan struct{}
	wg    sync.WaitGroup // serve and pending replies
}

func (a *slowARP) serve() {
	defer a.wg.Done()
	for {
		p, _, err := a.c.Read()
		if err != nil {
			var op *net.OpError
			if errors.Is(err, net.ErrClosed) || errors.As(err, &op) {
				return // closed by stop, or the socket failed
			}
			continue // a malformed frame
		}
		if p.Operation != arp.OperationRequest || p.TargetIP != a.host.Addr ||
			p.SenderHardwareAddr.String() == a.host.MAC.String() {
			continue
		}
		a.wg.Add(1)
		go a.reply(p)
	}
}

// reply answers req after the delay unless the responder stops first.
func (a *slowARP) reply(req *arp.Packet) {
	defer a.wg.Done()
	t := time.NewTimer(a.delay)
	defer t.Stop()
	select {
	case <-t.C:
		_ = a.c.Reply(req, a.host.MAC, a.host.Addr) // fails only once closed
	case <-a.quit:
	}
}

// stop ends the responder and waits for its goroutines.
func (a *slowARP) stop() {
	close(a.quit)
	a.c.Close()
	a.wg.Wait()
}
