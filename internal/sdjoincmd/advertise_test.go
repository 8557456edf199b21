package sdjoincmd

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// TestLabNoRenameAdvertisesIdentity checks that --no-rename advertises the
// address rename would follow (the default route's interface), not
// memberlist's first private address: eth0 holds a private address, the
// default route goes out of a second interface with a global one.
func TestLabNoRenameAdvertisesIdentity(t *testing.T) {
	lab.NeedTools(t, "ip")
	l := lab.New(t, lab.Config{Hosts: 1})
	h := l.Hosts[0]
	global := netip.MustParseAddr("198.51.100.1")
	lab.Shell(t, h, "ip link add rn0 type veth peer name rn1 && ip link set rn1 up && ip link set rn0 up && "+
		"ip addr add 198.51.100.1/24 dev rn0 && ip route add default via 198.51.100.2 dev rn0")
	a := startLabAgent(t, h, "norename", labHostfile(t), "--no-rename")
	want := []string{a.node(global)}
	lab.Eventually(t, 5*time.Second, "the agent listing itself", func() error {
		if got := a.list(t); !slices.Equal(got, want) {
			return fmt.Errorf("list = %v, want %v", got, want)
		}
		return nil
	})
}
