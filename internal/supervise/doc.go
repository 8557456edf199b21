// Package supervise runs a command on behalf of `sdjoin run`: it passes
// on stop signals, returns the command's exit status like a shell, and
// makes sure the command does not outlive a supervisor that is killed.
//
//	status, err := supervise.Run(ctx, []string{"redis-server", "--port", "6379"})
//	if err != nil {
//		fmt.Fprintln(os.Stderr, "sdjoin run:", err) // 126 or 127: it never ran
//	}
//	os.Exit(status)
//
// # Exit status
//
// Run returns the command's exit code, or 128+n when signal n killed it
// (143 for SIGTERM, 137 for SIGKILL), as sh reports it. A command that is
// not found gives 127, one that is found but cannot be executed (no x
// bit, a directory, a bad binary) 126, each with a one-line error naming
// the command and the fix.
//
// # Signals and the terminal
//
// The command runs in a process group of its own, with this process's
// stdin, stdout, stderr and environment. SIGINT, SIGTERM and SIGHUP that
// reach the supervisor are sent to that group (so a wrapper such as
// `sh -c` and what it starts all get them), and so is SIGTERM when Run's
// context is done. Signals reach the command only this way, exactly once:
// Ctrl-C in a terminal goes to the supervisor's foreground group and is
// forwarded. The price, as with envconsul and consul-template, which do
// the same: the command is not in the terminal's foreground group, so it
// is stopped (SIGTTIN) if it reads from the terminal. Services do not;
// piped stdin works. Ctrl-Z stops the supervisor only.
//
// # When the supervisor dies
//
// On Linux the command gets SIGTERM when the supervisor dies, even by
// SIGKILL (the parent-death signal, prctl PR_SET_PDEATHSIG). SIGTERM, not
// SIGKILL: it is the signal the command gets on every ordinary stop, so
// it can shut down cleanly (its entries are already gone from the
// cluster); a command that ignores SIGTERM outlives its supervisor, as it
// would outlive any stop. Only the command gets it, not processes it
// started. The kernel sends the signal when the thread that forked the
// command exits, not the process; Go ends a thread when a goroutine exits
// while locked to it (network namespace code does this on purpose), so Run
// keeps its goroutine locked to the forking thread until the command has
// exited.
//
// Run is not implemented on other systems.
package supervise
