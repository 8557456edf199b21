//go:build linux

package lab

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// nftTable is the name of the nftables tables the lab installs.
const nftTable = "ipfl"

// SetLoss makes the host drop percent (0 to 100) percent of everything it
// sends on eth0, ARP included, chosen at random per packet. It uses an
// nftables rule at the netdev egress hook of eth0 in the host's namespace:
//
//	numgen random mod 100 < percent drop
//
// (a plain drop for 100). SetLoss(0) removes the rule. Needs the nft tool.
func (h *Host) SetLoss(percent int) error {
	if percent < 0 || percent > 100 {
		return fmt.Errorf("lab: loss %d%%: want 0 to 100", percent)
	}
	script := dropTable("netdev")
	if percent > 0 {
		rule := fmt.Sprintf("numgen random mod 100 < %d drop", percent)
		if percent == 100 {
			rule = "drop" // nft rejects "< 100" for a value that is mod 100
		}
		script += fmt.Sprintf("table netdev %s {\n\tchain loss {\n\t\ttype filter hook egress device %q priority 0;\n\t\t%s\n\t}\n}\n",
			nftTable, h.Iface, rule)
	}
	if err := nft(h.Name, script); err != nil {
		return fmt.Errorf("lab: %s: set loss %d%%: %w", h.Name, percent, err)
	}
	return nil
}

// Partition cuts the hosts in a off from the hosts in b, in both directions,
// as if the cable between two switches were pulled: the bridge drops every
// frame (ARP, multicast and unicast alike) from a port of one group to a
// port of the other. Hosts inside a group, and hosts in neither, still reach
// everyone they reached before. Partitions add up until [Lab.Heal]. Needs
// the nft tool.
func (l *Lab) Partition(a, b []*Host) error {
	for _, h := range append(append([]*Host(nil), a...), b...) {
		if h.lab != l {
			return fmt.Errorf("lab: partition: host %v is not in lab %s", h, l.Name)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	parts := append(l.partitions, [2][]*Host{a, b})
	if err := nft(l.bridgeNS, partitionScript(parts)); err != nil {
		return fmt.Errorf("lab %s: partition: %w", l.Name, err)
	}
	l.partitions = parts
	return nil
}

// Heal removes every partition.
func (l *Lab) Heal() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if err := nft(l.bridgeNS, dropTable("bridge")); err != nil {
		return fmt.Errorf("lab %s: heal: %w", l.Name, err)
	}
	l.partitions = nil
	return nil
}

// partitionScript is the nft script that installs parts in the bridge
// namespace, replacing what was there.
func partitionScript(parts [][2][]*Host) string {
	var b strings.Builder
	b.WriteString(dropTable("bridge"))
	fmt.Fprintf(&b, "table bridge %s {\n\tchain forward {\n\t\ttype filter hook forward priority 0;\n", nftTable)
	for _, p := range parts {
		if len(p[0]) == 0 || len(p[1]) == 0 {
			continue
		}
		x, y := portSet(p[0]), portSet(p[1])
		fmt.Fprintf(&b, "\t\tiifname %s oifname %s drop\n", x, y)
		fmt.Fprintf(&b, "\t\tiifname %s oifname %s drop\n", y, x)
	}
	b.WriteString("\t}\n}\n")
	return b.String()
}

// portSet is an nft set of the bridge ports of hosts.
func portSet(hosts []*Host) string {
	names := make([]string, len(hosts))
	for i, h := range hosts {
		names[i] = fmt.Sprintf("%q", h.port)
	}
	return "{ " + strings.Join(names, ", ") + " }"
}

// dropTable is nft script that deletes the lab's table of family if it
// exists (adding it first makes the delete never fail).
func dropTable(family string) string {
	return fmt.Sprintf("add table %s %s\ndelete table %s %s\n", family, nftTable, family, nftTable)
}

// nft runs the nft script in the namespace ns, as one transaction.
func nft(ns, script string) error {
	if _, err := exec.LookPath("nft"); err != nil {
		return fmt.Errorf("nft not found (install nftables): %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("nft: %w: %s", err, bytes.TrimSpace(out.Bytes()))
	}
	return nil
}
