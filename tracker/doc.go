// Package tracker is a decentralized service registry with the semantics
// of Phoenix.Tracker, built on hashicorp/memberlist: every node tracks
// entries (service, key, meta) of its own, sees everyone's, gets diffs
// when they change, and picks a provider for caller-side load balancing.
//
//	t, err := tracker.New(&tracker.Config{Name: "web1@192.0.2.10", BindAddr: netip.MustParseAddrPort("192.0.2.10:7946")})
//	_, err = t.Join([]string{"web2@192.0.2.11"})
//	ref, err := t.Track("http", "web1", map[string]string{"port": "8080", "load": "3"})
//	p, err := t.Pick("http", tracker.Least("load"))
//	sub := t.Subscribe("http") // sub.C delivers Diffs
//	err = t.Leave(time.Second)
//
// # Data model
//
// Each node is the single writer of its own entries. Its record carries
// (node name, boot id, version): the boot id is the start time in
// nanoseconds (a restart always has a larger one), the version counts
// the node's changes since boot. There are no per-entry clocks: a copy
// of a record is newer than another if its boot is larger, or its boot
// equal and its version larger. Every entry remembers the version that
// last wrote it; (node, boot, version) is its Ref.
//
// # Propagation
//
// A change is gossiped as a delta (one put or delete, with its version)
// through memberlist's broadcast queue (TransmitLimitedQueue,
// RetransmitMult), and pushed at once in one UDP packet to 4 random
// members. A node gossips and pushes every delta it sees for the first
// time, so changes spread epidemically, in a few network hops. A receiver
// applies a delta only in order; deltas ahead of a missing version are
// held (memberlist sends newest first), and if the gap is still open 200
// ms later the receiver asks the writer for its whole record with a
// direct request and answer, in one UDP packet when it fits, else over
// memberlist's reliable channel (SendReliable, TCP), retried every second
// for up to 10 s. A change too big for one gossip packet (over
// 1100 bytes encoded) is gossiped as a payload-less notice of the new
// version, which triggers that same sync.
//
// For 10 s after its last change a node gossips a notice of its
// current version every second, so a peer that missed the last delta
// (lost packets, a short partition) notices the gap within about a
// second. When memberlist reports a node back alive after being dead,
// its record is fetched again.
//
// Membership gaps are closed on the tracker's side too: 1 s and 3 s
// after Join the node repeats the full state exchange with a random
// member (nodes that joined elsewhere meanwhile may be unknown to the
// peer it joined through), and while it remembers crashed nodes, every
// ReconnectInterval (2 s) it tries to rejoin one of them (memberlist
// never probes a dead node again, so this is what heals a partition).
// A leave is sent at once to every member as well as gossiped.
//
// Push/pull (LocalState/MergeRemoteState) is the anti-entropy: each side
// sends its own record plus a digest (node, boot, version) of all
// records held, and the receiver fetches records it is behind on from
// the sender. On a join both sides also send other records, up to about
// 16 KiB, so a small cluster's joiner has everything in one round trip;
// records the receiver already holds are skipped without decoding.
// When memberlist reports a node whose boot we hold no record of, we
// fetch the record from that node.
//
// # Lifecycle of a node's entries
//
//   - Alive (memberlist alive or suspect, boot matching the record):
//     entries are shown.
//   - Graceful leave (Leave; memberlist reports the node Left): entries
//     are removed at once everywhere (leaves emitted) and the boot is
//     remembered for the permdown period so stale copies do not return.
//   - Crash (memberlist declares the node dead): entries are hidden
//     (leaves emitted) but kept.
//   - The same node back with the same boot (a partition healed):
//     entries are shown again (joins emitted) and synced.
//   - Restart (same name, new boot): the old entries are dropped at once
//     and the new record is fetched; its entries join.
//   - Down longer than Config.PermdownPeriod (default 20 min): purged.
//
// # Renames
//
// A node started with Config.PreviousName advertises it in its node
// meta. When peers first see it, the previous node's entries are
// dropped (leaves, if still shown) and every join of the new node
// carries Presence.PrevNode; Diff.Renamed maps old name to new name for
// the joins of that diff. A consumer treats a leave of node A followed
// by joins with PrevNode A as one rename.
//
// # Subscriptions
//
// Subscribe returns a Subscription whose channel delivers one Diff per
// service and batch, leaves before joins, from the subscription's own
// goroutine (never inside memberlist callbacks). A slow reader never
// blocks the tracker: undelivered changes are coalesced per entry.
// SubscribeMembers also delivers every membership change (Diff.Member),
// taken from memberlist's join and leave callbacks, never coalesced and
// in order with the entry changes.
//
// # Limits
//
// Service names, keys and node names are at most 255 bytes; an entry's
// meta at most 1024 bytes encoded (sum of len(key)+len(value)+2, plus 1;
// ErrMetaTooLarge otherwise); a node tracks at most 10,000 entries. The
// node meta (boot id and previous name) is checked against memberlist's
// 512-byte limit before memberlist sees it. Gossip messages stay under
// 1100 bytes; records travel by TCP (push/pull, sync).
//
// # Counters
//
// Stats reads a node's counters (gossip packets, streams and bytes at the
// transport, push/pull exchanges, messages dropped) with atomic loads;
// counting them costs the gossip path an atomic add.
//
// # Timing profile
//
// LANMemberlistConfig (used when Config.Memberlist is nil) retunes
// memberlist's DefaultLANConfig for fast crash detection on a LAN; its
// source comments every knob. Lifeguard's awareness stretches probe
// timeouts on a node that is itself slow, and TCP fallback pings stop
// UDP loss from causing false suspicions. Set Config.Memberlist to a
// memberlist config of your own to change any knob (its identity,
// addresses, keys and delegates are overwritten). go run ./bench/tracker
// measures this profile beside DefaultLANConfig; the README lists the
// results.
//
// # Security
//
// Config.SecretKey (32 bytes for AES-256) encrypts all gossip and
// streams; a node without the key can neither join nor read anything.
// Config.Label keeps clusters sharing a network apart.
//
// Without a key, received messages are still checked: anything over the
// limits is dropped; changes, records and leaves count only from a
// member whose node meta carries the same boot (nothing is kept for
// other writers); a member gets our copy of a writer's record at most
// once per half second, however many requests name it; and a node
// memberlist did not know joins the view
// only once it answered a ping at its advertised address under its
// name, with at most 1 + members/8 such nodes on probation in
// memberlist at a time, so spoofed alive messages cannot fill the probe
// rotation with phantoms. Nodes wait for that ping in a bounded list
// that drops a random one when full; a node that joins through this one
// (a push/pull over TCP, which a UDP spoofer cannot complete, from the
// node's own address) is pinged at once, so are the members listed by
// the node a joiner dials, and for 10 s after Join a node push/pulls
// once with every node it verifies that has not shown by then that it
// knows this one, so a flood of phantom names does not keep real nodes
// out. Forging a member's own messages takes only
// its name and boot, which unencrypted gossip shows: only a key
// prevents that. A forged version above the member's own lasts until the
// member's next push/pull with the node: a record a member sends of
// itself replaces any other at its boot.
package tracker
