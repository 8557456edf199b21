package promtext

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// process writes the process metrics client_golang's process collector
// shows, from /proc/self/stat, /proc/stat and /proc/self/fd. A file it
// cannot read leaves its metrics out.
func (w *Writer) process() {
	st, err := readStat()
	if err != nil {
		return
	}
	w.One("process_cpu_seconds_total", TypeCounter, "Total user and system CPU time spent in seconds.",
		float64(st.utime+st.stime)/clockTicks)
	w.One("process_resident_memory_bytes", TypeGauge, "Resident memory size in bytes.",
		float64(st.rss*int64(os.Getpagesize())))
	w.One("process_virtual_memory_bytes", TypeGauge, "Virtual memory size in bytes.", float64(st.vsize))
	if boot, err := bootTime(); err == nil {
		w.One("process_start_time_seconds", TypeGauge, "Start time of the process since unix epoch in seconds.",
			float64(boot)+float64(st.start)/clockTicks)
	}
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		w.One("process_open_fds", TypeGauge, "Number of open file descriptors.", float64(len(fds)))
	}
	var lim unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) == nil {
		w.One("process_max_fds", TypeGauge, "Maximum number of open file descriptors.", float64(lim.Cur))
	}
}

var errBadStat = errors.New("promtext: malformed /proc stat")

type procStat struct {
	utime, stime, start uint64
	vsize               uint64
	rss                 int64 // pages
}

// readStat reads /proc/self/stat. Its second field, the command name in
// parentheses, may hold spaces and parentheses: fields are counted from
// the last ')'.
func readStat() (procStat, error) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return procStat{}, err
	}
	return parseStat(b)
}

func parseStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, errBadStat
	}
	f := strings.Fields(string(b[i+1:])) // f[0] is field 3, the state
	if len(f) < 22 {
		return procStat{}, errBadStat
	}
	var (
		st  procStat
		err error
	)
	u := func(k int) uint64 {
		v, e := strconv.ParseUint(f[k-3], 10, 64)
		if e != nil {
			err = errBadStat
		}
		return v
	}
	st.utime, st.stime, st.start, st.vsize = u(14), u(15), u(22), u(23)
	st.rss = int64(u(24))
	return st, err
}

// bootTime reads the boot time, in seconds since the epoch, from /proc/stat.
func bootTime() (int64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, errBadStat
}
