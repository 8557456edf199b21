// Package sdnotify tells systemd about a service's state (sd_notify(3)):
// READY=1 for Type=notify units, STOPPING=1, STATUS=... It is a datagram
// to the unix socket in $NOTIFY_SOCKET, and a no-op without one, so a
// service calls it unconditionally.
package sdnotify

import (
	"fmt"
	"net"
	"os"
)

// Notify sends state, such as "READY=1", to $NOTIFY_SOCKET. It returns
// false and no error when the variable is unset (not run by systemd, or
// not Type=notify); a name starting with '@' is in the abstract namespace.
func Notify(state string) (bool, error) {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return false, nil
	}
	if path[0] == '@' {
		path = "\x00" + path[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return false, fmt.Errorf("notify systemd: %w", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return false, fmt.Errorf("notify systemd: %w", err)
	}
	return true, nil
}
