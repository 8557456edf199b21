// Package sdjoincmd is the sdjoin command: an agent that joins the peers of a
// hostfile on a tracker cluster, tracks services and prints joins and leaves,
// and the client commands that talk to it over a local control socket.
// cmd/sdjoin only wires it to the process.
//
// # Identity
//
// A node is named Erlang-style NAME@IP: --name (default "sdjoin") and the
// advertised address. With --bind 0.0.0.0:PORT (the default, port 7946) and no
// --advertise, the address is this machine's IPv4 identity as package rename
// chooses it (rename.Choose: the address on the default route's interface,
// else the first usable one, primary before secondary), and it is followed
// as it changes (see Address changes). With --no-rename it is chosen once, as
// memberlist chooses it: the first private IPv4 address (RFC 1918 or the
// 100.64.0.0/10 shared space) of an up, non-loopback interface, in interface
// order, else the first global unicast IPv4 address. With a specific --bind
// address, that address is advertised.
//
// # Address changes
//
// When the address was not fixed by the user (no --advertise, --bind
// unspecified) and --no-rename is not given, a rename.Watcher follows the
// identity address in the network namespace the agent runs in (so an agent
// started with `ip netns exec` follows that namespace). A change is
// reported after 2 s without address events (rename.DefaultDebounce; a
// DHCP renewal that removes and re-adds the same address, or only renews
// it, is no change). On a change from OLD to NEW the agent leaves the
// cluster gracefully as NAME@OLD (peers drop its entries at once), binds
// memberlist anew as NAME@NEW with the old name as its previous identity
// in the node meta (tracker.Config.PreviousName), joins the peers that were
// alive and the hostfile's peers, and tracks the same services with the
// same meta. Peers show one rename: their output and `sdjoin watch` print
// "leave SERVICE NAME@OLD", "rename NAME@OLD -> NAME@NEW", then the joins,
// and their entries carry prev_node. The old name is gone before the new
// one appears, so no peer lists both.
//
// An address lost with none in its place (interface down, a DHCP lease
// refused and not replaced) is reported after a further 5 s of grace
// (rename.DefaultGrace; DHCP usually replaces a refused lease within 3 s,
// which is then one rename). The agent then leaves the cluster (with no
// address the leave rarely reaches the peers, which declare the node dead
// within seconds), says so on stderr, and keeps running offline: list and
// members answer nothing, pick finds no provider, track and untrack are
// kept for later. When an address returns it joins again as NAME@ADDR,
// naming the lost identity as its previous one if the address differs,
// and rejoins the last live peers and the hostfile's. An agent started
// with no IPv4 address at all waits offline the same way. A failed join
// under a new address is retried every retry interval (30 s).
//
// # Peers
//
// Peers come from the hostfile (--hostfile; default ~/.hosts, else
// ~/.hosts.erlang), in any format hostfile.ReadFile detects. An entry "host"
// or "name@host" is the peer host:7946 (the node name is only a hint), and
// "host:port" is that address. The agent's own bind and advertise addresses
// are skipped (with --bind 0.0.0.0, every local address with our port).
// The hostfile is polled every 2 s (inode, size and modification time) and
// re-read when it changes, so a cron-run ipfinder adds peers. Every 30 s the
// agent tries again the hostfile peers that are not members, so partitions
// heal and late nodes are found. Bad lines are skipped with one warning each;
// a hostfile that is not a regular file is not read. Each peer is first
// probed with a TCP connect (1 s, up to 1024 at once) and only the peers
// that answer are joined, so dead entries never delay live ones.
//
// # Control socket
//
// The agent listens on a unix socket, mode 0600: --socket, by default
// $XDG_RUNTIME_DIR/sdjoin/NAME.sock, or /tmp/sdjoin-UID/NAME.sock without
// XDG_RUNTIME_DIR, where NAME is --name: client commands given the same
// --name (or none) find the agent. The default directory is created with mode
// 0700 and refused when another user owns it or others may write to it. The
// socket is bound in a private directory and linked into place, so it is
// never connectable by others. A live agent on the socket stops a second one
// from starting; a stale socket (nobody listening) is removed. Client
// commands refuse a socket another user owns or could have replaced (see
// checkSocket). At most 128 connections are served at once.
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
// # Security
//
// --key-file names a file holding a 32-byte AES-256 key: exactly 32 raw
// bytes, or 64 hex digits, or base64 of 32 bytes (white space around the
// text is ignored). Make one with `head -c32 /dev/urandom | base64 > key`.
// The file must be a regular file of at most 4 KB, not readable by others
// (chmod 600). Nodes without the key
// can neither join nor read anything. --cluster sets memberlist's label, which
// keeps clusters sharing a network apart. Without a key the agent warns once
// that gossip is unencrypted.
//
// # Output
//
// The agent writes events to stdout, one per line: "join SERVICE NODE ADDR
// META", "leave SERVICE NODE", "rename OLD -> NEW", "member-join NODE ADDR"
// and "member-leave NODE", where META is the entry's meta as a JSON object;
// with --json, one JSON EVENT per line. Names and meta that are not plain
// printable text are escaped (Go-quoted in text, \u escapes in JSON), so an
// event is always one line; names with control characters are refused at
// the source (flags and socket). Startup messages and warnings go to stderr.
// Neither output blocks the agent when nobody reads it.
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
// # Signals
//
// SIGINT and SIGTERM make the agent leave the cluster (at most about 1.5 s)
// and exit 0; a second signal ends it at once. SIGHUP re-reads the hostfile
// and the key file; with a new key the node leaves and joins again with it.
package sdjoincmd
