// Package rtnl reads the kernel's interfaces, addresses, routes and
// neighbours over rtnetlink, and subscribes to their change events, on
// Linux. It parses the messages with the standard library's syscall
// helpers and a few lines of its own, in place of
// github.com/vishvananda/netlink, which made sdjoin 1.2 MB larger for the
// four dumps and one subscription it needs.
//
// # Namespaces
//
// A socket belongs to the network namespace of the thread that opened it:
// Dial and Subscribe use the calling thread's. A Conn keeps answering for
// that namespace from any goroutine.
package rtnl
