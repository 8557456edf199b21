//go:build deps

// Package deps pins the chosen dependencies until code imports them.
package deps

import (
	_ "github.com/google/go-cmp/cmp"
	_ "github.com/hashicorp/mdns"
	_ "github.com/hashicorp/memberlist"
	_ "github.com/mdlayher/arp"
	_ "github.com/miekg/dns"
	_ "github.com/urfave/cli/v2"
	_ "github.com/vishvananda/netlink"
	_ "golang.org/x/sys/unix"
)
