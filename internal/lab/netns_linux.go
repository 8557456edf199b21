//go:build linux

package lab

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// nsDir is where iproute2 keeps named network namespaces; `ip netns exec`
// looks them up there.
const nsDir = "/run/netns"

var nsDirOnce struct {
	sync.Mutex
	done bool
}

// ensureNSDir prepares nsDir the way `ip netns add` does: a shared mount, so
// that unmounting a namespace also unmounts the copies held by processes in
// private mount namespaces (avahi, `ip netns exec`), which would otherwise
// keep the namespace and its interfaces alive.
func ensureNSDir() error {
	nsDirOnce.Lock()
	defer nsDirOnce.Unlock()
	if nsDirOnce.done {
		return nil
	}
	if err := os.MkdirAll(nsDir, 0o755); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	err := unix.Mount("", nsDir, "none", unix.MS_SHARED|unix.MS_REC, "")
	if errors.Is(err, unix.EINVAL) { // not a mount point yet
		if err := unix.Mount(nsDir, nsDir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("lab: bind mount %s: %w", nsDir, err)
		}
		err = unix.Mount("", nsDir, "none", unix.MS_SHARED|unix.MS_REC, "")
	}
	if err != nil {
		return fmt.Errorf("lab: make %s a shared mount: %w", nsDir, err)
	}
	nsDirOnce.done = true
	return nil
}

// createNS creates the named network namespace name (like `ip netns add`)
// and returns an open handle to it.
func createNS(name string) (netns.NsHandle, error) {
	path := filepath.Join(nsDir, name)
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if errors.Is(err, os.ErrExist) {
		// Left by a crashed process that had this PID: names are unique
		// within a process, so nobody alive uses it.
		if err := killNS([]string{name}, 5*time.Second); err != nil {
			return netns.None(), err
		}
		if err := deleteNS(name); err != nil {
			return netns.None(), err
		}
		f, err = os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	}
	if err != nil {
		return netns.None(), fmt.Errorf("lab: create namespace %s: %w", name, err)
	}
	f.Close()
	h := netns.None()
	err = onThread(netns.None(), func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("unshare: %w", err)
		}
		if err := unix.Mount("/proc/thread-self/ns/net", path, "none", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind mount: %w", err)
		}
		var err error
		h, err = netns.GetFromPath(path)
		return err
	})
	if err != nil {
		deleteNS(name)
		return netns.None(), fmt.Errorf("lab: create namespace %s: %w", name, err)
	}
	return h, nil
}

// deleteNS removes the named namespace name (like `ip netns delete`). The
// kernel frees it, with its interfaces, once nothing else refers to it.
func deleteNS(name string) error {
	path := filepath.Join(nsDir, name)
	err := unix.Unmount(path, unix.MNT_DETACH)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
		err = nil // not mounted
	}
	if rerr := os.Remove(path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		err = errors.Join(err, rerr)
	}
	if err != nil {
		return fmt.Errorf("lab: delete namespace %s: %w", name, err)
	}
	return nil
}

// onThread runs fn on a locked OS thread, switched into target unless target
// is netns.None(), and switches the thread back to its original namespace
// afterwards (also when fn unshares a new one). If switching back fails, the
// thread stays locked, so the Go runtime destroys it when its goroutine exits
// instead of running other goroutines in the wrong namespace. A panic in fn
// is re-raised in the caller.
func onThread(target netns.NsHandle, fn func() error) error {
	type outcome struct {
		err      error
		panicked bool
		pval     any
	}
	done := make(chan outcome, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			done <- outcome{err: fmt.Errorf("lab: get current namespace: %w", err)}
			return
		}
		defer orig.Close()
		var o outcome
		func() {
			defer func() {
				if p := recover(); p != nil {
					o.panicked, o.pval = true, p
				}
			}()
			if target.IsOpen() {
				if err := netns.Set(target); err != nil {
					o.err = fmt.Errorf("lab: enter namespace: %w", err)
					return
				}
			}
			o.err = fn()
		}()
		if err := netns.Set(orig); err != nil {
			// Keep the thread locked: it dies with this goroutine.
			o.err = errors.Join(o.err, fmt.Errorf("lab: switch back to original namespace: %w", err))
			done <- o
			return
		}
		runtime.UnlockOSThread()
		done <- o
	}()
	o := <-done
	if o.panicked {
		panic(o.pval)
	}
	return o.err
}

type nsID struct{ dev, ino uint64 }

func statNS(path string) (nsID, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return nsID{}, err
	}
	return nsID{dev: st.Dev, ino: st.Ino}, nil
}

// nsPIDs returns the processes (other than this one) living in one of the
// named namespaces, as `ip netns pids` does.
func nsPIDs(names []string) ([]int, error) {
	want := make(map[nsID]bool, len(names))
	for _, name := range names {
		id, err := statNS(filepath.Join(nsDir, name))
		if err != nil {
			continue // already gone
		}
		want[id] = true
	}
	if len(want) == 0 {
		return nil, nil
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	var pids []int
	self := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		id, err := statNS("/proc/" + e.Name() + "/ns/net")
		if err == nil && want[id] {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// killNS kills every process in the named namespaces with SIGKILL and waits,
// up to timeout, until none is left.
func killNS(names []string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		pids, err := nsPIDs(names)
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("lab: processes %v still alive after SIGKILL", pids)
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(10 * time.Millisecond) // poll interval while they die
	}
}
