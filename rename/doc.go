// Package rename follows this machine's identity address as DHCP moves it.
//
// Watch chooses one address (see Choosing the identity below) and reports
// each change of it as a Change{Old, New} on a channel, so that a service
// announcing its address (sdjoin) can announce the new one:
//
//	w, err := rename.Watch(ctx, nil)
//	if err != nil {
//		return err
//	}
//	defer w.Close()
//	announce(w.Current())
//	for c := range w.Changes() {
//		announce(c.New) // invalid: the address is lost
//	}
//
// # How changes are found
//
// On Linux netlink subscriptions to address and route events serve as
// hints: after an event and Config.Debounce (2 s) of quiet, the full address
// list and the default routes are read again and the identity chosen
// afresh (events that never pause are read after four debounces). So a
// DHCP renewal that removes and re-adds the same address, or
// repeats a new-address event, is no change. A lost identity is reported
// only after Config.Grace (5 s) without a usable address, so a DHCP server
// moving the address is one Change{Old, New}, reported about Debounce
// after the new address appears. When the kernel drops events (its
// buffer overflowed) that is a hint too; the subscription is renewed if
// it ends on an error, and a safety read every Config.Poll (30 s) catches
// anything else lost. Where netlink is unavailable
// (other systems) the addresses are polled every 2 s with net.Interfaces.
//
// # Choosing the identity
//
// The identity is the address on the interface of the default route
// (IPv4's, else IPv6's), else the first usable address in a stable order:
// IPv4 before IPv6, primary before secondary, lower interface index,
// lower address. Loopback, link-local, tentative, DAD-failed, deprecated
// and IPv6 temporary (privacy) addresses are never chosen.
// Config.Interface restricts the choice to one interface and
// Config.Family to one address family; by default both families are
// allowed and IPv4 is preferred.
//
// # Network namespaces and privileges
//
// Watch needs no privileges. It opens its netlink sockets in the network
// namespace of the calling OS thread and keeps watching that namespace,
// whichever thread its goroutines later run on: to watch another
// namespace, call Watch on a thread locked into it (runtime.LockOSThread
// and netns.Set, as internal/lab's Host.Do does).
package rename
