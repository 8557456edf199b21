package cliutil

import (
	"bytes"
	"log/slog"
	"testing"
)

func TestLogHandler(t *testing.T) {
	var b bytes.Buffer
	log := slog.New(NewLogHandler(&b, "ipfinder", slog.LevelInfo))
	log.Warn("IP conflict: several MACs answer for one address", "addr", "192.0.2.10", "macs", "00:00:5e:00:53:01 00:00:5e:00:53:02")
	log.Debug("not shown")
	log.With("interface", "eth0").WithGroup("arp").Info("sweep done", "hosts", 3)
	log.Error("failed")
	want := `ipfinder: warning: IP conflict: several MACs answer for one address addr=192.0.2.10 macs="00:00:5e:00:53:01 00:00:5e:00:53:02"
ipfinder: sweep done interface=eth0 arp.hosts=3
ipfinder: error: failed
`
	if got := b.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}
