// Package ipfindercmd is the ipfinder command: flags, the sweep of every
// chosen interface, and the hostfile it writes. cmd/ipfinder only wires it
// to the process (signals, exit code); tests drive [App] directly.
//
// # Files
//
// app.go holds the flags and their checks, sweep.go runs ARP and mDNS on
// each interface (package scan), names.go reverse DNS and NetBIOS on the
// hosts found, merge.go joins what they found into one host per address
// (and orders the names), output.go writes stdout or the -o file and its --keep
// state, convert.go is the convert subcommand, progress.go the progress
// line on a terminal.
//
// # Names from the network
//
// Names, service types and Erlang node names that responders on the LAN
// announce (mDNS, the DNS server, NetBIOS, epmd) are checked with hostfile.CheckHostName and hostfile.CheckNode
// before they go into a host: one that no hostfile can hold is left out,
// with a note under -v, and its host stays.
//
// # Diagnostics
//
// Errors end the command with one line, "ipfinder: ...", and an exit code
// (see cliutil). Warnings are one line each, "ipfinder: warning: ...";
// -v adds details, package scan's among them (see detailsOnly).
package ipfindercmd
