package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ipfinder-go/ipfinder/bench/internal/sdjoinbench"
	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// pollInterval is how often each observer's list is read.
const pollInterval = 50 * time.Millisecond

// agent is one sdjoin process in a lab host, bound to 0.0.0.0:7946 with no
// --advertise, so it follows the host's address.
type agent struct {
	host *lab.Host
	name string
	sock string
	cmd  *exec.Cmd
}

// startAgents runs one sdjoin per host, each tracking service "svc", with
// a hostfile listing addrs, and waits until every agent lists every node.
func startAgents(bin, dir string, hosts []*lab.Host, addrs []netip.Addr) ([]*agent, error) {
	var b strings.Builder
	for _, a := range addrs {
		fmt.Fprintln(&b, a)
	}
	hostfile := filepath.Join(dir, "hosts.peers")
	if err := os.WriteFile(hostfile, []byte(b.String()), 0o600); err != nil {
		return nil, err
	}
	var agents []*agent
	for i, h := range hosts {
		a := &agent{host: h, name: fmt.Sprintf("n%d", i+1)}
		a.sock = filepath.Join(dir, a.name+".sock")
		a.cmd = h.Command(context.Background(), bin, "--name", a.name, "--socket", a.sock,
			"--hostfile", hostfile, "--track", "svc", "--hostfile-poll", "200ms", "--no-discover")
		if err := h.Start(a.cmd); err != nil {
			return nil, err
		}
		agents = append(agents, a)
	}
	var want []string
	for i, a := range agents {
		want = append(want, a.name+"@"+addrs[i].String())
	}
	slices.Sort(want)
	for _, a := range agents {
		err := sdjoinbench.WaitUntil(15*time.Second, 20*time.Millisecond, a.name+" listing every node", func() bool {
			ns, _ := a.list()
			return slices.Equal(ns, want)
		})
		if err != nil {
			return nil, err
		}
	}
	return agents, nil
}

// list asks the agent for the providers of "svc" over its control socket
// and returns their node names, sorted.
func (a *agent) list() ([]string, error) {
	ns, err := sdjoinbench.List(a.sock, "svc")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", a.name, err)
	}
	return ns, nil
}

// probe polls the observers' lists from now on; stop returns, per
// observer, the time since start of the first poll that listed newName
// and not oldName, and of the last poll that listed oldName.
type probe struct {
	done chan struct{}
	out  chan [2]time.Time
	n    int
}

func startProbe(observers []*agent, oldName, newName string) *probe {
	p := &probe{done: make(chan struct{}), out: make(chan [2]time.Time, len(observers)), n: len(observers)}
	for _, o := range observers {
		go func() {
			var renamed, lastOld time.Time
			tick := time.NewTicker(pollInterval)
			defer tick.Stop()
			for {
				ns, err := o.list()
				now := time.Now()
				if err == nil {
					hasOld := slices.Contains(ns, oldName)
					if hasOld {
						lastOld, renamed = now, time.Time{}
					} else if renamed.IsZero() && slices.Contains(ns, newName) {
						renamed = now
					}
				}
				select {
				case <-p.done:
					p.out <- [2]time.Time{renamed, lastOld}
					return
				case <-tick.C:
				}
			}
		}()
	}
	return p
}

// result stops the probe and measures from appeared.
func (p *probe) result(appeared time.Time) (result, error) {
	close(p.done)
	var r result
	var err error
	for i := range p.n {
		t := <-p.out
		if t[0].IsZero() {
			err = fmt.Errorf("an observer never listed the new name without the old")
			continue
		}
		renamed, gone := t[0].Sub(appeared), t[1].Sub(appeared)
		if i == 0 || renamed > r.renamed {
			r.renamed = renamed
		}
		if i == 0 || gone > r.oldGone {
			r.oldGone = gone
		}
	}
	return r, err
}

// waitRenamed polls until every observer lists newName and not oldName,
// then keeps polling for settle so a late return of the old name counts.
func waitRenamed(observers []*agent, oldName, newName string, within, settle time.Duration) error {
	for _, o := range observers {
		err := sdjoinbench.WaitUntil(within, 20*time.Millisecond, o.name+" listing "+newName+" only", func() bool {
			ns, _ := o.list()
			return slices.Contains(ns, newName) && !slices.Contains(ns, oldName)
		})
		if err != nil {
			return err
		}
	}
	time.Sleep(settle) // the probe keeps polling meanwhile
	return nil
}

// move gives the first host of a lab its new address and returns when the
// address appeared.
type move func() (appeared time.Time, err error)

// measureMove runs one agent on each of three hosts of a fresh lab and
// measures how fast the other two follow the first to a new address.
// setup prepares the lab before the agents start and returns the first
// host's address, its new one and how to move it there.
func measureMove(bin string, setup func(l *lab.Lab) (from, to netip.Addr, m move, err error)) (result, error) {
	l, err := lab.Start(lab.Config{Hosts: 3})
	if err != nil {
		return result{}, err
	}
	defer l.Close()
	dir, err := os.MkdirTemp("", "bench-rename-")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	from, to, m, err := setup(l)
	if err != nil {
		return result{}, err
	}
	agents, err := startAgents(bin, dir, l.Hosts, []netip.Addr{from, l.Hosts[1].Addr, l.Hosts[2].Addr})
	if err != nil {
		return result{}, err
	}
	mover := agents[0]
	oldName, newName := mover.name+"@"+from.String(), mover.name+"@"+to.String()
	if err := mover.host.WaitDAD(); err != nil {
		return result{}, err
	}
	p := startProbe(agents[1:], oldName, newName)
	appeared, err := m()
	if err != nil {
		return result{}, err
	}
	if err := waitRenamed(agents[1:], oldName, newName, 15*time.Second, time.Second); err != nil {
		return result{}, err
	}
	return p.result(appeared)
}

// runIPAddr moves the first of three agents with `ip addr add NEW; ip addr
// del OLD` (the new address a secondary promoted when the old goes).
func runIPAddr(bin string) (result, error) {
	return measureMove(bin, func(l *lab.Lab) (netip.Addr, netip.Addr, move, error) {
		h := l.Hosts[0]
		oldAddr, newAddr := h.Addr, l.Addr(200)
		if err := sh(h, "sysctl -qw net.ipv4.conf.eth0.promote_secondaries=1"); err != nil {
			return oldAddr, newAddr, nil, err
		}
		bits := strconv.Itoa(l.Prefix.Bits())
		return oldAddr, newAddr, func() (time.Time, error) {
			appeared := time.Now()
			err := sh(h, "ip addr add "+newAddr.String()+"/"+bits+" dev eth0 && ip addr del "+oldAddr.String()+"/"+bits+" dev eth0")
			return appeared, err
		}, nil
	})
}

// sh runs a shell script in h's namespace.
func sh(h *lab.Host, script string) error {
	out, err := h.Command(context.Background(), "sh", "-c", script).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %q: %v\n%s", h.Name, script, err, out)
	}
	return nil
}
