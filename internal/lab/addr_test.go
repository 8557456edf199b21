package lab

import (
	"net/netip"
	"testing"
)

func TestLabAddr(t *testing.T) {
	l := &Lab{Prefix: netip.MustParsePrefix("192.0.2.0/24")}
	for _, tc := range []struct {
		name string
		n    int
		want string
	}{
		{"network", 0, "192.0.2.0"},
		{"first_host", 1, "192.0.2.1"},
		{"past_the_hosts", 200, "192.0.2.200"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := l.Addr(tc.n); got != netip.MustParseAddr(tc.want) {
				t.Errorf("Addr(%d) = %v, want %s", tc.n, got, tc.want)
			}
		})
	}
}
