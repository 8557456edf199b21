package sdjoincmd

// manual is sdjoin's manual, shown by --help. It is the one full
// description of the command's behaviour: doc.go covers the
// implementation, the README walks through examples.
const manual = `sdjoin runs a service discovery agent: it joins the peers listed in a
hostfile, tracks the services given with --track and prints the joins and
leaves of every service and node as they happen. Other commands ask a
running agent through its control socket.

Two agents on one machine (each in its own terminal), then questions:

   printf '127.0.0.1:7946\n127.0.0.1:7947\n' > hosts
   sdjoin --name node1 --bind 127.0.0.1:7946 --hostfile hosts --track test
   sdjoin --name node2 --bind 127.0.0.1:7947 --hostfile hosts --track test
   sdjoin list test --name node1
   sdjoin pick test --policy least:load
   sdjoin watch --json
   sdjoin track db --meta port=5432 --meta load=3
   sdjoin untrack db
   sdjoin run --track web --meta port=8080 -- python3 -m http.server 8080
   sdjoin list --local

NODE NAMES. A node is NAME@IP: --name (default sdjoin; ASCII letters,
digits, '_', '-' and '.', as ipfinder --name) and the advertised address:
--advertise, else the --bind address, else (--bind 0.0.0.0, the default)
this machine's IPv4 address on the default route's interface, else its
first usable one. Service names and --meta keys and values may hold any
printable characters, not control characters or invalid UTF-8.

ADDRESS CHANGES. Unless --advertise or a specific --bind fixes the
address, the agent follows it: 2 s after the address changes (a DHCP
renewal that keeps it changes nothing) the node leaves the cluster as
NAME@OLD and joins again as NAME@NEW with the same services, and peers
report one rename (watch prints "rename OLD -> NEW"). An address lost with
none in its place (after 5 s more) makes the agent leave and wait
offline (list finds nothing, track is kept for later) until one returns.
--no-rename turns this off; the address is then chosen once, by the same
rule.

PEERS. Peers come from --hostfile (default ~/.hosts, else
~/.hosts.erlang) in any hostfile format: "host" and "name@host" mean port
7946, "host:port" that port. The file is polled every 2 s and re-read when
it changes (so a cron-run ipfinder adds peers); it must be a regular file.
Peers that are not members are tried at start, on every change and every
30 s, and while some are missing during the first 30 s, again after
100 ms, 200 ms, ... up to every 1 s: each is first probed with a TCP
connect (1 s, up to 1024 at once, in random order) so dead entries
never delay live ones, and 3 of those that answer are joined; the
others come by gossip. Host names are resolved again before every try, after the
addresses are tried: NAME.local over mDNS on the interface of the
advertised address (never on loopback: list the address instead), other
names through the system resolver (DNS), 1 s each, all at once. A name
that does not resolve is warned about once, naming it, until it
resolves again.

DISCOVERY. Agents on one link also find each other with no hostfile:
each announces itself over mDNS (multicast DNS, port 5353) as
NAME@IP._sdjoin._udp.local, with its gossip address and port, its
--cluster label and the discovery protocol version (never the key), and
looks for the others; it joins those with the same label and version
like hostfile peers, within about a second. Only the interface holding
the advertised address is used, never loopback (an agent on 127.0.0.1
does not discover). After an address change it announces the new name;
when it stops it says goodbye. The hostfile stays the way to reach peers
beyond the link. --no-discover turns discovery off: nothing is announced
or looked for.

PUBLISHING. With discovery on, this node's advertised entries with a
"port" in their meta are published over DNS-SD (mDNS) on the same
interface, so any DNS-SD browser on the link sees the live providers:
NODE._SERVICE._tcp.local ("NODE (session-N)" for a session's entry), SRV
to sdjoin-A-B-C-D.local (an A record of its own, never the machine's host
name) and the port, TXT key=value from the meta. An entry leaving (untrack,
session end, failing check, agent stop) is withdrawn at once (goodbye).
A service whose name is not a DNS-SD service name (1 to 15 letters, digits
and hyphens, one letter at least, no hyphen at an end or twice in a row)
or whose port is not 1-65535 is not published (one warning); at most 64
instances are. --no-publish turns publishing off.

DNS. --dns ADDR:PORT (such as 127.0.0.1:8600; off by default) answers
DNS queries over UDP and TCP for the zone --dns-domain (default sdjoin.)
from this agent's view: NAME.service.sdjoin A and AAAA with the
providers' node addresses, SRV (priority 1, weight 1) with the port in
their meta "port" (entries without a port 1-65535 get no SRV) and target
NODE.node.sdjoin, whose address comes as an additional record; records
are shuffled per query. NODE.node.sdjoin answers the node's address.
Labels compare without case; a service answers only if its name is a
DNS label (letters, digits, '-', '_'; services differing only in case
answer together). Node NAME@IP is the label NAME-at-IP, lower case, with
'.', '_' and ':' as '-' (node1@10.0.0.1 is node1-at-10-0-0-1), or NAME
alone while one member has it; names that fit no label are left out.
Unknown names answer NXDOMAIN, other zones REFUSED, other types nothing.
--dns-ttl (default 0s: never cached) sets every TTL. Replies over UDP are
cut to 512 bytes or the client's EDNS0 size (at most 4096) with the TC
bit set, so clients retry over TCP; at most 64 TCP connections are served
at once, each closed after 5 s idle. Forward the zone from dnsmasq with
server=/sdjoin/127.0.0.1#8600.

CONTROL SOCKET. $XDG_RUNTIME_DIR/sdjoin/NAME.sock, else
/tmp/sdjoin-UID/NAME.sock, or --socket PATH: mode 0600, bound in a private
directory and then moved into place, so nobody else can ever connect. The
default directory is created 0700 and refused if another user owns it or
others may use it. Client commands refuse a socket another user owns, a
default directory that is not theirs alone, and a --socket directory
another user owns or may write to without the sticky bit. The agent
serves at most 128 connections at once.

As a systemd service (sdjoin.service: RuntimeDirectory=sdjoin) the
agent's socket is /run/sdjoin/NAME.sock ($RUNTIME_DIRECTORY/NAME.sock),
mode 0660 in a 0750 directory: root and the members of group sdjoin may
use it. Client commands without a socket of their own there use it, if
/run/sdjoin belongs to root or user sdjoin and only its owner may write
to it. With Type=notify the agent tells systemd it is ready once the
socket answers and the first join round is done.

HTTP API. --http ADDR:PORT (off by default; such as 127.0.0.1:8500)
serves JSON: GET /v1/services and /v1/services/NAME (entries; this
node's with their check state; ?local=true: as list --local), GET
/v1/members, GET /v1/pick/NAME?policy=POLICY (404 when none), GET
/v1/events[?service=NAME] (Server-Sent Events: watch --json's records,
the current state first), PUT /v1/track/NAME (body {"meta":{...},
"checks":[...],"interval_ms":N,"timeout_ms":N}) and DELETE
/v1/track/NAME. Errors are {"error":"..."} with the HTTP status. Track
and untrack are allowed only from loopback (naming the server by
address or localhost), unless --http-token-file FILE is given: then
only with "Authorization: Bearer TOKEN", from anywhere (a regular file
of at most 4 KB, mode 600, one token of 16 or more visible ASCII
characters; SIGHUP re-reads it). Bodies are limited to 64 KiB,
headers must arrive within 5 s, at most 1024 event streams run at
once, and a stream that falls 256 events behind is dropped (the client
reconnects).
GET / is a web page of the same, live: open http://ADDR:PORT/ in a
browser for the members, services (with check states) and events.

SECURITY. --key-file FILE encrypts gossip with a shared 32-byte key (32 raw
bytes, 64 hex digits or base64; a regular file of at most 4 KB, not
readable by others); nodes without it can neither join nor read anything:

   head -c32 /dev/urandom | base64 > key && chmod 600 key
   sdjoin --key-file key --cluster lab --track test

--cluster LABEL keeps clusters sharing a network apart (discovery joins
only agents with the same label).

OUTPUT. One event per line on stdout: "join SERVICE NODE ADDR META",
"leave SERVICE NODE", "rename OLD -> NEW", "member-join NODE ADDR" and
"member-leave NODE" (a node's member-join comes before its entries' joins,
its member-leave after their leaves); with --json, JSON lines. A name that
is not plain printable text is printed Go-quoted ("a\nb"), so an event is
always one line. Messages go to stderr, "sdjoin: ..." and
"sdjoin: warning: ...". Neither output blocks the agent when nobody reads
it (events are then dropped and counted).

PROCESSES. An entry of --track or sdjoin track lives as long as the
agent. sdjoin run --track NAME [--meta K=V]... -- CMD [ARGS...] tracks
its entries for as long as CMD runs: it connects to the agent (exit 1 if
none runs; CMD is not started), runs CMD, passes SIGINT, SIGTERM and
SIGHUP on to it and exits with its status (128+N if signal N killed it,
127 not found, 126 not executable). The entries leave the cluster when
CMD exits, or when sdjoin run dies, even by SIGKILL (CMD then gets
SIGTERM). sdjoin track NAME --hold does the same without a command,
until it is interrupted or killed. Each such session's entries have a
key of their own (session-N; the agent's own have key sdjoin), so two
instances of a service on one node are two entries. When the agent goes
away, sessions connect again (every 100 ms, backing off to 1 s) and track
their entries again; CMD keeps running. An agent serves at most 96
sessions of at most 32 entries.

HEALTH CHECKS. --check SPEC after a --track (on the agent, sdjoin track
and sdjoin run; repeatable) checks that entry: tcp://HOST:PORT passes
when a connection succeeds, http://URL and https://URL when a GET
answers 2xx or 3xx, exec:COMMAND [ARGS...] when the command exits 0 (no
shell: write exec:sh -c '...' for one). --check-interval (default 5s,
at least 100ms) and --check-timeout (default 2s) after the same --track
apply to its checks. A new entry is advertised once its checks pass; two
failures in a row withdraw it (peers see a leave), one pass brings it
back (a join); the agent says so on stderr. Checks run in the agent
(its user, environment and working directory), also those of sdjoin run.
A check that cannot run fails with the reason as its output. sdjoin list --local shows this
node's entries, withdrawn ones included, with each check's state
(passing, warning, pending, critical) and last output; a URL's
user:password@ shows as xxxxx@.

SIGNALS. SIGINT or SIGTERM makes the agent leave the cluster (waiting at
most about 1.5 s) and exit 0; a second one ends it at once. SIGHUP
re-reads the hostfile, the key file and the HTTP token file; with a new
key the node leaves and joins again with it.

EXIT CODES. 0 success, 1 failure (also: no agent running), 2 usage error
(a bad --check SPEC too), 3 nothing found (pick or list with no
provider); sdjoin run exits with its command's status.`
