//go:build linux

package sdjoincmd

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
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// Bounds of the rename lab tests, with the default debounce (2 s).
const (
	renameBound  = 5 * time.Second // new address -> every peer lists NAME@NEW
	oldGoneBound = time.Second     // NAME@NEW listed -> NAME@OLD gone
	listInterval = 100 * time.Millisecond
)

// labAgent is a real sdjoin process in a lab host's namespace, bound to
// 0.0.0.0:7946 with no --advertise, so it follows the host's address.
type labAgent struct {
	host   *lab.Host
	name   string // NAME of NAME@IP
	sock   string
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	exited chan struct{} // closed when the process has exited
}

// startLabAgent runs sdjoin in h tracking service "svc" with meta
// host=NAME, and waits for its control socket. It is killed with the lab.
func startLabAgent(t *testing.T, h *lab.Host, name, hostfile string, extra ...string) *labAgent {
	t.Helper()
	bin := buildBinary(t)
	a := &labAgent{
		host: h, name: name,
		sock:   filepath.Join(t.TempDir(), name+".sock"),
		stdout: &syncBuffer{}, stderr: &syncBuffer{},
		exited: make(chan struct{}),
	}
	args := []string{"--name", name, "--socket", a.sock, "--hostfile", hostfile,
		"--track", "svc", "--meta", "host=" + name}
	args = append(append(args, fastKnobs...), extra...)
	a.cmd = h.Command(context.Background(), bin, args...)
	a.cmd.Stdout, a.cmd.Stderr = a.stdout, a.stderr
	if err := h.Start(a.cmd); err != nil {
		t.Fatal(err)
	}
	go func() {
		a.cmd.Wait()
		close(a.exited)
	}()
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		select {
		case <-a.exited:
			t.Logf("%s exited: %v", name, a.cmd.ProcessState)
		default: // still running: SIGQUIT makes Go print every goroutine's stack
			a.cmd.Process.Signal(syscall.SIGQUIT)
			select {
			case <-a.exited:
			case <-time.After(3 * time.Second):
			}
		}
		t.Logf("%s stderr:\n%s\n%s stdout:\n%s", name, a.stderr, name, a.stdout)
	})
	waitFor(t, 10*time.Second, name+" control socket", func() bool {
		select {
		case <-a.exited:
			t.Fatalf("%s exited: %v\n%s", name, a.cmd.ProcessState, a.stderr)
		default:
		}
		return answering(a.sock)
	})
	return a
}

// node returns the agent's node name at addr.
func (a *labAgent) node(addr netip.Addr) string { return a.name + "@" + addr.String() }

// list returns the node names listing service svc on the agent, through
// `sdjoin list --json` on its control socket.
func (a *labAgent) list(t *testing.T) []string {
	t.Helper()
	return a.listService(t, "svc")
}

// listService returns the node names providing service on the agent.
func (a *labAgent) listService(t *testing.T, service string) []string {
	t.Helper()
	code, out, errs := runCLI(context.Background(), "list", service, "--json", "--socket", a.sock)
	switch code {
	case 0:
		return nodes(decodeLines(t, out))
	case 3: // nothing found
		return nil
	}
	t.Errorf("list %s on %s: exit %d: %s", service, a.name, code, errs)
	return nil
}

// watch runs `sdjoin watch svc` against the agent until the test ends.
func (a *labAgent) watch(t *testing.T) *syncBuffer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- runApp(ctx, &out, &syncBuffer{}, []string{"sdjoin", "watch", "svc", "--socket", a.sock})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	waitFor(t, 5*time.Second, "the watch on "+a.name+" starting", func() bool { return out.String() != "" })
	return &out
}

// waitAll waits until every agent lists exactly want.
func waitAll(t *testing.T, agents []*labAgent, within time.Duration, want ...string) {
	t.Helper()
	slices.Sort(want)
	for _, a := range agents {
		waitFor(t, within, a.name+" listing "+strings.Join(want, " "), func() bool {
			return slices.Equal(a.list(t), want)
		})
	}
}

// sightings records, for one observer polling its list, when the renamed
// node was seen under its old and new names.
type sightings struct {
	observer string
	firstNew time.Time // first poll listing the new name
	lastOld  time.Time // last poll listing the old name
	oldNow   bool      // the latest poll listed the old name
	both     []time.Time
}

// renameProbe polls observers' lists every listInterval from start until
// stop, recording each sighting of oldName and newName.
type renameProbe struct {
	mu   sync.Mutex
	seen []*sightings
	stop context.CancelFunc
	wg   sync.WaitGroup
}

func probeRename(t *testing.T, observers []*labAgent, oldName, newName string) *renameProbe {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &renameProbe{stop: cancel}
	for _, o := range observers {
		s := &sightings{observer: o.name}
		p.seen = append(p.seen, s)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			tick := time.NewTicker(listInterval)
			defer tick.Stop()
			for {
				ns := o.list(t)
				now := time.Now()
				hasOld, hasNew := slices.Contains(ns, oldName), slices.Contains(ns, newName)
				p.mu.Lock()
				if hasNew && s.firstNew.IsZero() {
					s.firstNew = now
				}
				if hasOld {
					s.lastOld = now
				}
				s.oldNow = hasOld
				if hasOld && hasNew {
					s.both = append(s.both, now)
				}
				p.mu.Unlock()
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
			}
		}()
	}
	t.Cleanup(p.finish)
	return p
}

// finish stops the polls.
func (p *renameProbe) finish() {
	p.stop()
	p.wg.Wait()
}

// done reports whether every observer lists the new name and no longer
// the old one.
func (p *renameProbe) done() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.seen {
		if s.firstNew.IsZero() || s.oldNow {
			return false
		}
	}
	return true
}

// check asserts the bounds from appeared, the time the new address
// appeared: each observer lists the new name within renameBound, the old
// name is gone within oldGoneBound of the new one appearing (its last
// sighting, against the first of the new), and no poll lists both. It
// returns the slowest observer's time to list the new name.
func (p *renameProbe) check(t *testing.T, appeared time.Time) time.Duration {
	t.Helper()
	p.finish()
	var worst time.Duration
	for _, s := range p.seen {
		if s.firstNew.IsZero() {
			t.Errorf("%s never listed the new name", s.observer)
			continue
		}
		took := s.firstNew.Sub(appeared)
		worst = max(worst, took)
		oldGone := s.lastOld.Sub(s.firstNew)
		t.Logf("%s: new name listed %v after the new address; old name last listed %v relative to that",
			s.observer, took.Round(time.Millisecond), oldGone.Round(time.Millisecond))
		if took > renameBound {
			t.Errorf("%s listed the new name %v after the new address, want <= %v", s.observer, took, renameBound)
		}
		if oldGone > oldGoneBound {
			t.Errorf("%s still listed the old name %v after the new one appeared, want <= %v", s.observer, oldGone, oldGoneBound)
		}
		if len(s.both) > 0 {
			t.Errorf("%s listed both names at once %d times, first %v after the new address", s.observer, len(s.both), s.both[0].Sub(appeared))
		}
	}
	return worst
}

// labHostfile writes a plain hostfile listing addrs (port 7946).
func labHostfile(t *testing.T, addrs ...netip.Addr) string {
	t.Helper()
	var b strings.Builder
	for _, a := range addrs {
		fmt.Fprintln(&b, a)
	}
	path := filepath.Join(t.TempDir(), "hosts")
	writeFile(t, path, b.String())
	return path
}

// TestLabRenameIPAddr moves one of three nodes to a new address with
// `ip addr`: every other node lists it under NAME@NEW within 5 s, the old
// name is gone before (never both listed), and watch shows one rename.
func TestLabRenameIPAddr(t *testing.T) {
	t.Parallel()
	lab.NeedTools(t, "ip")
	l := lab.New(t, lab.Config{Hosts: 3})
	hosts := labHostfile(t, l.Hosts[0].Addr, l.Hosts[1].Addr, l.Hosts[2].Addr)
	var agents []*labAgent
	for i, h := range l.Hosts {
		agents = append(agents, startLabAgent(t, h, fmt.Sprintf("n%d", i+1), hosts))
	}
	mover, observers := agents[0], agents[1:]
	oldAddr, newAddr := mover.host.Addr, l.Addr(200)
	oldName, newName := mover.node(oldAddr), mover.node(newAddr)
	waitAll(t, agents, 10*time.Second, oldName, agents[1].node(l.Hosts[1].Addr), agents[2].node(l.Hosts[2].Addr))
	watch := observers[1].watch(t)

	// The new address is a secondary one in the same subnet: it must be
	// promoted when the primary goes, not deleted with it.
	lab.Shell(t, mover.host, "sysctl -qw net.ipv4.conf.eth0.promote_secondaries=1")
	if err := mover.host.WaitDAD(); err != nil {
		t.Fatal(err)
	}
	probe := probeRename(t, observers, oldName, newName)
	bits := strconv.Itoa(l.Prefix.Bits())
	appeared := time.Now()
	lab.Shell(t, mover.host, "ip addr add "+newAddr.String()+"/"+bits+" dev eth0 && ip addr del "+oldAddr.String()+"/"+bits+" dev eth0")
	waitFor(t, renameBound+2*time.Second, "every observer listing "+newName+" only", probe.done)
	time.Sleep(time.Second) // keep polling: the old name must not come back
	worst := probe.check(t, appeared)
	t.Logf("ip addr: cluster-wide rename %v after the new address", worst.Round(time.Millisecond))

	rename := fmt.Sprintf("rename %s -> %s", oldName, newName)
	waitFor(t, 2*time.Second, "the watch showing "+rename, func() bool { return hasLine(watch.String(), rename) })
	want := fmt.Sprintf(`join svc %s %s:7946 {"host":"n1"}`, newName, newAddr)
	waitFor(t, 2*time.Second, "the watch showing the join", func() bool { return hasLine(watch.String(), want) })
	if !strings.Contains(mover.stderr.String(), "renamed "+oldName+" -> "+newName) {
		t.Errorf("the mover's stderr does not say it renamed:\n%s", mover.stderr)
	}
	for _, a := range agents {
		if got := a.list(t); !slices.Contains(got, newName) || slices.Contains(got, oldName) {
			t.Errorf("%s lists %v", a.name, got)
		}
	}
}

// TestLabRenameLostAddress flushes a node's address with none to replace
// it: the agent keeps running offline without spinning, says so, and
// joins again when the address returns.
func TestLabRenameLostAddress(t *testing.T) {
	t.Parallel()
	lab.NeedTools(t, "ip")
	l := lab.New(t, lab.Config{Hosts: 2})
	hosts := labHostfile(t, l.Hosts[0].Addr, l.Hosts[1].Addr)
	short := []string{"--rename-debounce", "200ms", "--rename-grace", "300ms"}
	lost := startLabAgent(t, l.Hosts[0], "n1", hosts, short...)
	peer := startLabAgent(t, l.Hosts[1], "n2", hosts)
	addr := lost.host.Addr
	name := lost.node(addr)
	waitAll(t, []*labAgent{lost, peer}, 10*time.Second, name, peer.node(l.Hosts[1].Addr))

	lab.Shell(t, lost.host, "ip -4 addr flush dev eth0")
	waitFor(t, 5*time.Second, "n1 saying the address is lost", func() bool {
		return strings.Contains(lost.stderr.String(), "address "+addr.String()+" lost")
	})
	if got := lost.list(t); len(got) != 0 {
		t.Errorf("n1 offline lists %v, want nothing", got)
	}
	before := cpuTime(t, lost.cmd.Process.Pid)
	time.Sleep(3 * time.Second) // the interval the CPU time is measured over
	used := cpuTime(t, lost.cmd.Process.Pid) - before
	t.Logf("offline agent used %v of CPU in 3 s", used)
	if used > 300*time.Millisecond {
		t.Errorf("offline agent used %v of CPU in 3 s: busy loop?", used)
	}
	select {
	case <-lost.exited:
		t.Fatalf("n1 exited offline: %v\n%s", lost.cmd.ProcessState, lost.stderr)
	default:
	}
	// The leave could not be sent without an address: the peer declares
	// the node dead.
	waitFor(t, 15*time.Second, "n2 dropping n1", func() bool { return !slices.Contains(peer.list(t), name) })

	lab.Shell(t, lost.host, fmt.Sprintf("ip addr add %s/%d dev eth0", addr, l.Prefix.Bits()))
	waitAll(t, []*labAgent{lost, peer}, 10*time.Second, name, peer.node(l.Hosts[1].Addr))
	if !strings.Contains(lost.stderr.String(), "joining the cluster as "+name) {
		t.Errorf("n1's stderr does not say it joined again:\n%s", lost.stderr)
	}
}

// cpuTime returns the user plus system CPU time of process pid.
func cpuTime(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The fields after "(comm)": state is the first, utime the 12th,
	// stime the 13th.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		t.Fatalf("short /proc/%d/stat: %q", pid, s)
	}
	var ticks int64
	for _, x := range f[11:13] {
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			t.Fatalf("/proc/%d/stat: %v", pid, err)
		}
		ticks += n
	}
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(ticks) * time.Second / clkTck
}

// TestLabRenameDHCP moves a node with a real DHCP server and client: the
// same bounds hold from the new lease, and a renewal that keeps the
// address changes nothing.
func TestLabRenameDHCP(t *testing.T) {
	t.Parallel()
	lab.NeedTools(t, "ip", "dnsmasq", "busybox")
	l := lab.New(t, lab.Config{Hosts: 3})
	client := l.Hosts[0]
	first, second := l.Addr(120), l.Addr(121)
	d := lab.NewDHCP(t, l, l.Hosts[1], client, first)
	hosts := labHostfile(t, first, l.Hosts[1].Addr, l.Hosts[2].Addr)
	var agents []*labAgent
	for i, h := range l.Hosts {
		agents = append(agents, startLabAgent(t, h, fmt.Sprintf("n%d", i+1), hosts))
	}
	mover, observers := agents[0], agents[1:]
	oldName, newName := mover.node(first), mover.node(second)
	others := []string{agents[1].node(l.Hosts[1].Addr), agents[2].node(l.Hosts[2].Addr)}
	waitAll(t, agents, 10*time.Second, append([]string{oldName}, others...)...)
	watch := observers[1].watch(t)

	if err := client.WaitDAD(); err != nil {
		t.Fatal(err)
	}
	probe := probeRename(t, observers, oldName, newName)
	bound, err := d.Move(second)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, renameBound+2*time.Second, "every observer listing "+newName+" only", probe.done)
	time.Sleep(time.Second) // keep polling: the old name must not come back
	worst := probe.check(t, bound)
	t.Logf("DHCP: cluster-wide rename %v after the new lease", worst.Round(time.Millisecond))
	rename := fmt.Sprintf("rename %s -> %s", oldName, newName)
	waitFor(t, 2*time.Second, "the watch showing "+rename, func() bool { return hasLine(watch.String(), rename) })

	// A renewal that keeps the address: no leave, no rename.
	mark := len(watch.lines())
	if _, err := d.Renew(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second) // the debounce (2 s) and a margin: nothing may happen
	for _, line := range watch.lines()[mark:] {
		if strings.HasPrefix(line, "leave ") || strings.HasPrefix(line, "rename ") {
			t.Errorf("the watch after a renewal keeping the address: %q", line)
		}
	}
	if n := strings.Count(mover.stderr.String(), "renamed "); n != 1 {
		t.Errorf("the mover renamed %d times, want 1:\n%s", n, mover.stderr)
	}
	waitAll(t, agents, time.Second, append([]string{newName}, others...)...)
}
