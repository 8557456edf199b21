package ipfindercmd

import (
	"os"
	"testing"
	"time"

	"github.com/ipfinder-go/ipfinder/scan"
)

// TestProgressSilentOnDevNull: `ipfinder 2>/dev/null` under cron writes no
// progress line, though /dev/null is a character device.
func TestProgressSilentOnDevNull(t *testing.T) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	p := newProgress(null, []scan.Plan{{Iface: scan.Iface{Name: "eth0"}}})
	p.start = time.Now().Add(-time.Minute) // past the one-second grace
	p.link(0)(1, 254)
	if p.shown {
		t.Error("progress line written to /dev/null")
	}
}
