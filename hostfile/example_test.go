package hostfile_test

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/ipfinder-go/ipfinder/hostfile"
)

func Example() {
	hosts := []hostfile.Host{
		{Addr: netip.MustParseAddr("192.0.2.20"), Names: []string{"beta.local"}},
		{Addr: netip.MustParseAddr("192.0.2.3"), Names: []string{"alpha.local", "alpha"}, Node: "app@192.0.2.3"},
	}
	for _, f := range []hostfile.Format{hostfile.Hosts, hostfile.Erlang} {
		if err := hostfile.Write(os.Stdout, f, hosts); err != nil {
			fmt.Println(err)
		}
	}
	// Output:
	// # Written by ipfinder (github.com/ipfinder-go/ipfinder/hostfile); edits are overwritten.
	// 192.0.2.3	alpha.local alpha
	// 192.0.2.20	beta.local
	// % Written by ipfinder (github.com/ipfinder-go/ipfinder/hostfile); edits are overwritten.
	// 'app@192.0.2.3'.
	// '192.0.2.20'.
}

func ExampleParse_lenient() {
	in := "192.0.2.1 alpha\n321.321.321.321 bogus\n192.0.2.2 beta\n"
	hosts, err := hostfile.Parse(strings.NewReader(in), "~/.hosts", &hostfile.ParseOptions{Lenient: true})
	for _, h := range hosts {
		fmt.Println(h.Addr, h.Names)
	}
	var pe *hostfile.ParseError
	if errors.As(err, &pe) {
		fmt.Println("warning:", err)
	}
	// Output:
	// 192.0.2.1 [alpha]
	// 192.0.2.2 [beta]
	// warning: hostfile ~/.hosts line 2: bad address "321.321.321.321"
}

func ExampleWriteFile() {
	dir, err := os.MkdirTemp("", "hostfile")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, ".hosts.erlang")
	hosts := []hostfile.Host{{Addr: netip.MustParseAddr("192.0.2.5")}}
	for range 2 {
		changed, err := hostfile.WriteFile(path, hostfile.Auto, hosts) // Erlang, by the name
		fmt.Println(changed, err)
	}
	// Output:
	// true <nil>
	// false <nil>
}
