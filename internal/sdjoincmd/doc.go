// Package sdjoincmd is the sdjoin command: an agent that joins the peers of a
// hostfile on a tracker cluster, tracks services and prints joins and leaves,
// and the client commands that talk to it over a local control socket.
// cmd/sdjoin only wires it to the process (SIGINT and SIGTERM, exit code);
// tests drive [App] directly or run the built binary.
//
// What the command does is written once, in its manual (manual.go, shown by
// sdjoin --help); the README walks through it. This comment covers how it is
// built.
//
// # Architecture
//
// The agent is three parts, after hashicorp/serf's agent. The core (core.go)
// owns the tracker and the node's identity: starting, retiring, renaming,
// losing and regaining the address, reloading the key all run on one
// goroutine, its loop (other goroutines ask through onLoop); it also owns
// the entries this node tracks, keyed by service and key, and the hostfile's
// peers (peers.go, join.go). The hub (hub.go) is the agent's view of the
// cluster and the one way out for events: every consumer registers a
// handler (the stdout printer, each control-socket watch) and gets the
// current state, then every change, in order. Front-ends only translate:
// the control socket (control.go, protocol.go, socket.go) turns requests
// into core calls and watches into hub handlers; SIGHUP becomes a reload.
//
// Planned consumers fit the same shape: HTTP/SSE, DNS, metrics and an mDNS
// publisher are hub handlers plus a listener. An entry owned by a
// control-socket session gets the session's own key (untracking all of a
// session's entries when its connection closes is untracking one key); a
// health check withdraws an entry by untracking it from the tracker while
// the core keeps it, marked withdrawn, in its entries, and restores it by
// tracking it again. The core is not an importable package yet: its API
// will change with those features; once they have landed it can move to
// a package of its own with the hub.
//
// # Files
//
// core.go (lifecycle and identity), entries.go (what this node tracks and
// the queries), follow.go (address changes, with package rename), peers.go
// and join.go (the hostfile's peers, probed then joined), hub.go (view and
// fan-out), output.go (the stdout printer and non-blocking writers),
// events.go (event records and their escaping), names.go (checks of names
// and meta), control.go, protocol.go and socket.go (the control socket),
// client.go (the client commands), keyfile.go, advertise.go, app.go and
// manual.go (flags and --help).
//
// # Address changes
//
// A rename.Watcher follows the identity address in the network namespace the
// agent runs in, debounced (rename.DefaultDebounce) and with a grace period
// for a lost address (rename.DefaultGrace). On a change the core retires the
// tracker (a graceful leave) and starts a new one with the old name as
// tracker.Config.PreviousName, so peers show one rename; the hub drops the
// old node's entries before the new ones join, so no peer lists both. A
// lost address retires the tracker and reports every entry and member as
// left. A tracker that replaces another rejoins the old one's live peers
// (probed first) and the hub reconciles its entries and members with it.
//
// # Control protocol
//
// The protocol is JSON lines. The client sends one request line and reads
// one reply line:
//
//	{"op":"list","service":"test"}          {"entries":[ENTRY...]}
//	{"op":"members"}                        {"members":[ENTRY...]}
//	{"op":"pick","service":"test","policy":"least:load"}  {"entries":[ENTRY]}
//	{"op":"track","service":"db","meta":{"port":"5432"}}  {}
//	{"op":"untrack","service":"db"}         {}
//	{"op":"watch","service":"test"}         {} then one EVENT per line
//
// An ENTRY is {"service","key","node","addr","meta","prev_node","local"}
// (members carry node, addr, prev_node and local). An EVENT is an ENTRY with
// "event": join, leave, rename (node is the new name, prev_node the old one),
// member-join or member-leave; the agent's --json output is the same events.
// A failed request is answered {"error":"...","code":N} with N the exit code
// the client uses: 1 failure, 2 bad request, 3 nothing found (pick with no
// provider, untrack of a service not tracked; the list client also exits 3
// on an empty list). A track of a service already tracked replaces its meta.
// A watcher that falls more than 1024 events behind gets an error line and
// is disconnected.
//
// # Diagnostics
//
// Errors end the command with one line, "sdjoin: ...", and an exit code (see
// cliutil). Messages and warnings are one line each, "sdjoin: ..." and
// "sdjoin: warning: ...", with control characters escaped; -v adds details
// (the tracker's and memberlist's) in the same style (cliutil.NewLogHandler).
package sdjoincmd
