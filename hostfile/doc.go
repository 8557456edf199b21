// Package hostfile reads and writes lists of discovered hosts in four
// formats: hosts(5), Erlang's .hosts.erlang, a plain one-host-per-line list
// and JSON.
//
// A [Host] is one discovered host. Each format stores some of its fields;
// [Parse] and [ReadFile] read a file, detecting its format unless told,
// [Write] writes one, and [WriteFile] replaces a file atomically, only when
// its content changes, so that a cron job rewriting a hostfile makes no
// spurious changes.
//
// # Formats
//
// Hosts (hosts(5), as read by the resolver, dnsmasq --addn-hosts and Go's
// net package): one line per host, "IP canonical-name [aliases...]"; '#'
// starts a comment. It carries Addr and Names. Several lines may have the
// same address; each is one Host. Hosts without both an address and a name
// are left out when writing. A host's global and unique local IPv6
// addresses ([Host.ExtraAddrs]) get a line each, with the host's names.
//
//	192.0.2.10	alpha.example alpha
//	2001:db8::10	alpha.example
//
// Erlang (the .hosts.erlang file that Erlang's net_adm:host_file/0 reads
// with file:consult/1): one atom per line, followed by a full stop. An atom
// is a host ('192.0.2.10', 'alpha.example') or a node name
// ('app@192.0.2.10'). Atoms are written in single quotes with ' and \
// escaped by a backslash; the parser reads what file:consult reads for such
// a file: quoted atoms with all of Erlang's escape sequences, bare atoms
// (alpha.), '%' comments and several terms on a line. Other terms (strings,
// tuples) are errors. A Host with Node is written as its node, otherwise as
// its address, or its first name when it has no address. Parsing sets Node,
// and Addr or Names from the host part.
//
//	'192.0.2.10'.
//	'app@192.0.2.11'.
//
// Plain: one host per line, '#' starting a comment: an address, a name,
// "host:port" (IPv4 address or name), "[IPv6]:port" or a node name
// "name@host". It carries what Erlang does, plus Port. A host without a
// node gets a line for each of its [Host.ExtraAddrs] too.
//
// JSON: an array of objects, indented, one per host. "ip" and "names" are
// always present; every other key only when it carries something (no
// "port": 0, "node": "", "conflict": [] or "self": false). Parsers also
// accept the empty values, null lists included, that versions before
// 2026-12 wrote:
//
//	[
//	  {
//	    "ip": "192.0.2.10",           // always; "" for a name-only host
//	    "port": 4369,                 // left out when none
//	    "mac": "00:00:5e:00:53:01",   // left out when unknown
//	    "ipv6": ["2001:db8::10", "fe80::1%eth0"], // IPv6 addresses on the link
//	    "vendor": "ICANN, IANA Department", // vendor of mac
//	    "names": ["alpha.local"],     // always; canonical first; [] when none, never null
//	    "sources": {"alpha.local": "mdns"}, // where each name came from
//	    "workgroup": "WORKGROUP",     // NetBIOS workgroup
//	    "node": "app@192.0.2.10",     // Erlang node "name@host"
//	    "services": ["_ssh._tcp"],    // mDNS service types
//	    "conflict": ["00:00:5e:00:53:02"], // other MACs that answered for ip
//	    "last_seen": "2024-05-01T10:00:00Z", // RFC 3339, UTC
//	    "self": true                  // the host is this machine
//	  }
//	]
//
// A host with nothing but an address and no name is {"ip": "192.0.2.9",
// "names": []}.
// It carries every field. Unknown keys are ignored when parsing; an element
// needs at least one of ip, names and node. Services, IPv6 and Conflict are sets:
// they are written sorted, without duplicates.
//
// # Names
//
// A host name is 1 to 253 bytes of Unicode letters, digits, '-', '_' and
// '.', and its last label is not all digits (that would be a mistyped
// address). A node name is "name@host" where host is an address or a host
// name and name any printable characters but '@', '#' and white space, at
// most 255 characters in all, the Erlang limit for atoms. These rules keep
// every name writable in every format. Writers return an error, and write
// nothing, for a Host that breaks them; [CheckHostName] and [CheckNode]
// check names that come from the network before they go into a Host.
// [CheckNodeName] checks the NAME of NAME@HOST that a command is given: it
// is stricter (ASCII letters, digits, '_', '-' and '.'), so that NAME@ADDR
// is valid for any address.
//
// # Detecting the format
//
// With [Auto] the first entry decides: '[' starts JSON, unless an IPv6
// address follows it ("[2001:db8::1]:7946" is plain); a '%' comment or a
// leading quote is Erlang; an address followed by a name is hosts(5); an
// entry ending in a full stop is Erlang; a single field is plain. A '#'
// comment before or on the first entry rules out Erlang and JSON, which
// have none, so whatever the writers write is detected as its format. A
// file with no entry parses as no hosts. Pass the format when a file may
// be ambiguous, such as a plain list without comments whose first name
// ends in a dot.
//
// # Order and determinism
//
// Writers sort hosts: those with an address first, by address
// (netip.Addr.Compare, so IPv4 before IPv6 and numerically), then name-only
// hosts by name; ties are broken by the node and every other field. The same
// hosts in any order give byte-identical output. The line formats start
// with a one-line comment without a timestamp; only JSON's last_seen, which
// the caller sets, carries a time. Parsing what a writer wrote gives back
// the same hosts, for every field the format carries.
//
// # Errors
//
// A bad line stops [Parse] with a [*ParseError] that names the file, the
// line and the problem:
//
//	hostfile /etc/hosts.lan line 3: bad address "321.321.321.321"
//
// With ParseOptions.Lenient, Parse skips bad lines and returns the other
// hosts together with an errors.Join of one *ParseError per skipped line,
// for the caller to print as warnings. Errors quote at most 64 bytes of a
// field, with control characters escaped.
//
// # Limits
//
// Parse and ReadFile read at most 64 MiB and take time linear in the size
// of the input. ReadFile reads regular files only: a FIFO, a device or a
// directory is an error at once, without waiting for a writer.
//
// # Atomic replace
//
// [WriteFile] writes a temporary file in the same directory, syncs it,
// renames it over the old file and syncs the directory.
// Readers see the old or the new file, never a mix; a failed write leaves
// the old file as it was and no temporary file behind (one left by a
// writer that was killed is removed by a later write, after an hour). The
// new file keeps the old one's mode (and owner, when run as root); a
// symbolic link is kept and its target replaced. Like the kernel's
// fs.protected_symlinks, a link in a world-writable directory such as /tmp,
// as the file or as one of its directories, is followed only when it
// belongs to the caller or to the directory's owner: a link planted by
// another user is an error. So is, like fs.protected_regular, a file
// there that another user owns: its replacement would keep that owner.
package hostfile
