//go:build linux

package lab

import (
	"net"
	"strings"
	"testing"
	"time"
)

func TestSetLoss(t *testing.T) {
	t.Parallel()
	NeedTools(t, "nft")
	l := New(t, Config{Hosts: 2})
	a, b := l.Hosts[0], l.Hosts[1]
	if err := b.SetLoss(100); err != nil {
		t.Fatal(err)
	}
	if ping(t, a, b, false) {
		t.Errorf("%v pings %v despite 100%% loss", a, b)
	}
	if err := b.SetLoss(0); err != nil {
		t.Fatal(err)
	}
	if !ping(t, a, b, true) {
		t.Errorf("%v cannot ping %v after loss removed", a, b)
	}
	if err := b.SetLoss(0); err != nil {
		t.Errorf("removing no loss: %v", err)
	}
	if err := b.SetLoss(101); err == nil {
		t.Error("SetLoss(101) succeeded, want an error")
	}
}

func TestPartition(t *testing.T) {
	t.Parallel()
	NeedTools(t, "nft")
	l := New(t, Config{Hosts: 4})
	h := l.Hosts
	if err := l.Partition(h[:2], h[2:3]); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		from, to *Host
		want     bool
	}{
		{"a_to_b_cut", h[0], h[2], false},
		{"b_to_a_cut", h[2], h[1], false},
		{"inside_group_a", h[0], h[1], true},
		{"outsider_to_a", h[3], h[0], true},
		{"outsider_to_b", h[3], h[2], true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := ping(t, tt.from, tt.to, tt.want); got != tt.want {
				t.Errorf("ping %v -> %v = %v, want %v", tt.from, tt.to, got, tt.want)
			}
		})
	}
	t.Cleanup(func() {
		// Runs after the parallel subtests.
		if err := l.Heal(); err != nil {
			t.Fatal(err)
		}
		if !ping(t, h[0], h[2], true) {
			t.Errorf("%v cannot ping %v after Heal", h[0], h[2])
		}
	})
}

func TestPartitionScript(t *testing.T) {
	l := &Lab{}
	hosts := []*Host{{port: "h1", lab: l}, {port: "h2", lab: l}, {port: "h3", lab: l}}
	got := partitionScript([][2][]*Host{{hosts[:2], hosts[2:]}})
	for _, want := range []string{
		"delete table bridge ipfl\n",
		`iifname { "h1", "h2" } oifname { "h3" } drop`,
		`iifname { "h3" } oifname { "h1", "h2" } drop`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("script lacks %q:\n%s", want, got)
		}
	}
}

func TestSetLoss_partial(t *testing.T) {
	t.Parallel()
	NeedTools(t, "nft")
	const sent, percent = 400, 30
	l := New(t, Config{Hosts: 2})
	a, b := l.Hosts[0], l.Hosts[1]
	if !ping(t, b, a, true) { // resolves a's MAC before the loss starts
		t.Fatalf("%v cannot ping %v", b, a)
	}
	var rx, tx *net.UDPConn
	err := a.Do(func() (err error) {
		rx, err = net.ListenUDP("udp4", &net.UDPAddr{IP: a.Addr.AsSlice()})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	err = b.Do(func() (err error) {
		tx, err = net.DialUDP("udp4", nil, rx.LocalAddr().(*net.UDPAddr))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	if err := b.SetLoss(percent); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < sent; i++ {
		if _, err := tx.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	got := 0
	buf := make([]byte, 16)
	for {
		rx.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if _, _, err := rx.ReadFromUDP(buf); err != nil {
			break
		}
		got++
	}
	// 70% of 400 is 280, with a standard deviation of about 9.
	if lo, hi := 240, 320; got < lo || got > hi {
		t.Errorf("received %d of %d datagrams with %d%% loss, want %d to %d", got, sent, percent, lo, hi)
	}
}
