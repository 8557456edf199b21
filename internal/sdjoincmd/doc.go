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
// publisher are hub handlers plus a listener. The core is not an
// importable package yet; it can move to a package of its own with the
// hub.
//
// # Sessions and health checks
//
// Every entry the core holds (entries.go) has an owner's key: trackKey
// for the agent's own (--track, the control socket's track), session-N
// for a control-socket session (sdjoin run, track --hold), whose
// connection handler untracks them when the connection closes, so a
// client that dies, even by SIGKILL, takes its entries with it at once
// (a graceful untrack, not crash detection). The agent bounds sessions
// (maxSessions, below the 128 connections the socket serves) and their
// entries (maxSessionEntries). The client (session.go) reconnects with
// backoff and tracks them again when the agent goes away.
//
// An entry with checks is added to a check.Runner under its key and
// service; the core's loop consumes the Runner's changes and tracks the
// entry in the tracker while check.State.Advertised, untracks it
// otherwise, keeping it (withdrawn) among its entries, so list --local
// shows it with its checks' states and outputs, and a new tracker
// (rename, new key) tracks only the advertised ones.
//
// # Files
//
// core.go (lifecycle and identity), discovery.go (mDNS peers), publish.go
// (DNS-SD publishing), entries.go (what this node tracks and
// the queries), follow.go (address changes, with package rename), peers.go
// and join.go (the hostfile's peers, probed then joined), hub.go (view and
// fan-out), output.go (the stdout printer and non-blocking writers),
// events.go (event records and their escaping), names.go (checks of names
// and meta), control.go, protocol.go and socket.go (the control socket),
// client.go (the client commands), session.go (sdjoin run and track
// --hold: sessions that reconnect), spec.go (entries with checks, their
// wire form and bounds), http.go and sse.go (the HTTP API and its event
// streams), dns.go and dnszone.go (the DNS interface), keyfile.go, advertise.go, app.go and
// manual.go (flags and --help).
//
// # Discovery
//
// discovery.go runs a discover.Agent (package internal/discover, mDNS on
// the interface of the advertised address) per tracker: started after
// the tracker, stopped (goodbye) before it leaves, so a rename announces
// the new name. Peers it hears land in core.discovered (at most
// maxDiscovered, dropped on goodbye) and are joined by the join loop with
// the hostfile's, probed first. The key is never announced.
//
// # Publishing
//
// publish.go's publisher is a hub handler (registered unless
// --no-discover or --no-publish): it follows the joins and leaves of this
// node's own entries (record.Local), so an untrack, a session's end and
// a check's withdrawal all reach it as leaves, and hands the set of DNS-SD
// instances (entries with a valid service name and a meta port) to the
// current discover.Agent's Publish, which never blocks. startDiscovery
// attaches each new Agent (it publishes the set at once); stopDiscovery
// detaches it before Close, whose goodbye withdraws them all.
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
//	{"op":"local","service":"db"}           {"entries":[LOCAL...]}
//	{"op":"session","entries":[TRACK...]}   {"key":"session-1"} then nothing
//
// A track request may carry "checks" (specs), "interval_ms" and
// "timeout_ms"; a TRACK of a session is {"service","meta","checks",
// "interval_ms","timeout_ms"} (1 to 32 of them, each of another
// service). A session's entries are tracked, all or none, under the key
// of the reply and untracked when the client closes the connection
// (anything it sends meanwhile is ignored); at most 96 sessions are open
// at once. A LOCAL is an ENTRY of this node (withdrawn ones included,
// no addr) with "state" (passing, warning, pending or critical) and
// "checks": [{"check","state","output","time"}], the check's URL
// userinfo redacted.
//
// An ENTRY is {"service","key","node","addr","meta","prev_node","local"}
// (members carry node, addr, prev_node and local). An EVENT is an ENTRY with
// "event": join, leave, rename (node is the new name, prev_node the old one),
// member-join or member-leave; the agent's --json output is the same events.
// A failed request is answered {"error":"...","code":N} with N the exit code
// the client uses: 1 failure, 2 bad request, 3 nothing found (pick with no
// provider, untrack of a service not tracked; the list client also exits 3
// on an empty list). A track of a service already tracked replaces its meta
// and checks (changed checks start it over, pending).
// A watcher that falls more than 1024 events behind gets an error line and
// is disconnected.
//
// # HTTP API
//
// http.go (--http) is another front-end of the same shape: each /v1
// request becomes the control request it mirrors (checkRequest, then
// controlServer.answer), so both validate and answer alike; replies are
// the same records as JSON, errors {"error":"..."} with an HTTP status.
// sse.go's event streams are hub handlers like watch, but queue into a
// slice bounded by replay+sseBacklog (memory follows what is queued) and
// are dropped when it overflows or a write blocks for writeWait. Track
// and untrack pass guard: a token (compared as SHA-256 sums in constant
// time) or a loopback peer naming the server by address. The listener is
// limited to maxHTTPConns connections and event streams to
// maxSSEClients; shutdown ends the streams, then the server.
//
// web.go serves GET /: web/index.html with web/style.css and web/app.js
// inlined at start (Go's embed), under a Content-Security-Policy that
// allows just those two by their SHA-256. The script keeps its tables
// from /v1/events (rebuilt from the replay on every reconnect) and polls
// /v1/members and /v1/services?local=true for this node and check states.
//
// # DNS interface
//
// dns.go (--dns) serves a dnsZone (dnszone.go) with miekg/dns over UDP
// and TCP on one address; the TCP listener is limited to maxDNSConns
// connections with read and idle timeouts. The zone answers from two
// functions, the entries of a label and the members, keeps the SRV
// records built from one list result while list returns that same slice
// (srvSet), and never panics on a request (FuzzDNSRequest). The agent feeds it a dnsCache,
// a hub handler that drops its copy of each label's entries at every
// event and reads them again through the core (core.services and
// core.listServices, under c.mu, like list) on the next query. Service
// names become labels only when they are valid ones (serviceLabel); node
// names map to NAME-at-IP (nodeLabel). A reply is packed once and, only
// when it does not fit its transport, trimmed (fit: TC only when answers
// had to go).
//
// # Diagnostics
//
// Errors end the command with one line, "sdjoin: ...", and an exit code (see
// cliutil). Messages and warnings are one line each, "sdjoin: ..." and
// "sdjoin: warning: ...", with control characters escaped; -v adds details
// (the tracker's and memberlist's) in the same style (cliutil.NewLogHandler).
package sdjoincmd
