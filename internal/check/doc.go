// Package check runs health checks for the entries an agent advertises,
// with Consul's semantics: an entry is advertised once its checks pass,
// withdrawn after two failures in a row, and back after one pass.
//
//	spec, err := check.Parse("http://127.0.0.1:8080/health") // err: a usage error
//	r := check.NewRunner()
//	defer r.Close()
//	err = r.Add("web/web1", check.Entry{Specs: []check.Spec{spec}, Interval: time.Second})
//	for range r.Notify() {
//		for _, s := range r.Changes() {
//			// track s.ID if s.State.Advertised(), untrack it otherwise
//		}
//	}
//
// # Checks
//
//   - tcp://HOST:PORT passes when a TCP connection to HOST:PORT succeeds.
//   - http://URL and https://URL pass when a GET answers 2xx or 3xx.
//     Redirects are not followed (a 3xx passes); at most MaxOutput bytes of
//     the body are read; every check opens a fresh connection (no
//     keep-alive) and ignores proxy variables; https verifies the server's
//     certificate against the system's roots.
//   - exec:COMMAND [ARGS...] passes when the command exits 0. It runs in a
//     process group of its own with stdin from /dev/null; stdout and
//     stderr are captured together and the last MaxOutput bytes kept.
//     When it times out the whole group is killed, and what is left of
//     the group when the command exits is killed too. If the agent dies,
//     the command gets SIGKILL (Linux parent-death signal). Exec checks
//     are implemented on Linux only.
//
// A check that cannot run (a missing command, a host that does not
// resolve) fails with that error as its output.
//
// # Exec command lines
//
// No shell runs: the command line is split into words the way sh splits a
// simple command, and what sh would interpret is an error instead of a
// literal, so a spec never silently means something else than the same
// words typed into sh. Words are separated by spaces and tabs; '...' is
// literal; inside "..." a backslash escapes only " \ $ ` and newline;
// outside quotes a backslash escapes any character. Unquoted | & ; < > ( )
// $ ` * ? [ and newline, a word starting with ~ or #, and $ or ` inside
// double quotes are errors. For pipes, variables or globs, write a shell:
//
//	exec:sh -c 'pgrep -x redis-server >/dev/null'
//
// # States
//
// Each check of an entry, and the entry (the worst of its checks), is in
// one of four states:
//
//   - Pending: no pass yet. A new entry is not advertised before its first
//     pass; failures meanwhile keep it pending.
//   - Passing: the last result passed. Advertised.
//   - Warning: passing before, then one failure. Still advertised.
//   - Critical: two failures in a row after passing. Withdrawn; the next
//     pass makes it Passing again.
//
// A run that exceeds the timeout is a failure ("timed out after 2s").
//
// # Timing
//
// Every check runs as soon as its entry is added, then every interval
// (Entry.Interval, default 5 s), measured from start to start; a run is
// cut off at the timeout (Entry.Timeout, default 2 s). A check never
// overlaps itself.
//
// # Reporting
//
// Runs never wait for the consumer. The Runner marks an entry changed when
// its state changes and sends on the Notify channel without blocking
// (one pending wake-up covers many changes); Changes returns the current
// status of every changed entry, so the consumer always ends up with the
// latest state, however late it reads. Status and List return every
// entry's state with each check's last output (at most MaxOutput bytes,
// on one line, control characters escaped) and time, for display.
//
// # Cost
//
// Measured with bench/checks (2 cores shared with other work, load
// average 8-11, 30 s each): the checking process used 0.67% of a core for
// 100 TCP checks at a 1 s interval, 1.41% for 100 HTTP checks and 2.39%
// for both together. Exec checks cost more, since each run forks: 100
// runs of exec:true per second took 3.5% of a core in the agent plus
// 10.7% in the commands.
package check
