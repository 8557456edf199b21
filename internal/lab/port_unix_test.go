//go:build unix

package lab

import "testing"

func TestFreePortReservedUntilTestEnds(t *testing.T) {
	var first int
	t.Run("holder", func(t *testing.T) {
		first = FreePort(t)
		seen := map[int]bool{first: true}
		for range 50 {
			p := FreePort(t)
			if seen[p] {
				t.Fatalf("port %d handed out twice while reserved", p)
			}
			seen[p] = true
		}
		if f, ok := lockPort(portDir(), first); ok {
			f.Close()
			t.Fatalf("port %d lockable while reserved", first)
		}
	})
	if f, ok := lockPort(portDir(), first); !ok {
		t.Fatalf("port %d still locked after its test ended", first)
	} else {
		f.Close()
	}
	if lo := ephemeralLow(); first < portLow || first >= lo {
		t.Fatalf("port %d outside [%d, %d)", first, portLow, lo)
	}
}
