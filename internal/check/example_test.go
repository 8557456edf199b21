package check_test

import (
	"fmt"
	"net"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/check"
)

func ExampleParse() {
	_, err := check.Parse("exec:pgrep redis | wc -l")
	fmt.Println(err)
	// Output:
	// bad check "exec:pgrep redis | wc -l": command: unquoted '|': exec checks run without a shell: quote it, or write exec:sh -c '...'; use tcp://HOST:PORT, http://URL, https://URL or exec:COMMAND [ARGS...]
}

func ExampleRunner() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()
	spec, err := check.Parse("tcp://" + ln.Addr().String())
	if err != nil {
		fmt.Println(err)
		return
	}

	r := check.NewRunner()
	defer r.Close()
	if err := r.Add("db/db1", check.Entry{Specs: []check.Spec{spec}, Interval: time.Second}); err != nil {
		fmt.Println(err)
		return
	}
	<-r.Notify()
	for _, s := range r.Changes() {
		fmt.Println(s.ID, s.State, s.State.Advertised())
	}
	// Output:
	// db/db1 passing true
}
