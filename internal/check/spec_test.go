package check

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Spec
	}{
		{"tcp://127.0.0.1:5432", Spec{kind: kindTCP, addr: "127.0.0.1:5432"}},
		{"tcp://[2001:db8::1]:80", Spec{kind: kindTCP, addr: "[2001:db8::1]:80"}},
		{"TCP://db.example:5432", Spec{kind: kindTCP, addr: "db.example:5432"}},
		{"http://127.0.0.1:8080/health", Spec{kind: kindHTTP, url: "http://127.0.0.1:8080/health"}},
		{"https://web.example/health?full=1", Spec{kind: kindHTTP, url: "https://web.example/health?full=1"}},
		{"http://[2001:db8::1]/", Spec{kind: kindHTTP, url: "http://[2001:db8::1]/"}},
		{"exec:true", Spec{kind: kindExec, argv: []string{"true"}}},
		{"exec:pg_isready -h 127.0.0.1", Spec{kind: kindExec, argv: []string{"pg_isready", "-h", "127.0.0.1"}}},
		{`exec:sh -c 'test -f /run/ready'`, Spec{kind: kindExec, argv: []string{"sh", "-c", "test -f /run/ready"}}},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		tt.want.raw = tt.in
		if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(Spec{})); diff != "" {
			t.Errorf("Parse(%q) (-want +got):\n%s", tt.in, diff)
		}
		if got.String() != tt.in {
			t.Errorf("String() = %q, want %q", got.String(), tt.in)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ in, err string }{
		{"", "no kind"},
		{"127.0.0.1:80", `unknown kind "127.0.0.1"`},
		{"udp://127.0.0.1:53", `unknown kind "udp"`},
		{"tcp:127.0.0.1:80", "want tcp://HOST:PORT"},
		{"tcp://127.0.0.1", `want HOST:PORT, got "127.0.0.1"`},
		{"tcp://127.0.0.1:0", `bad port "0"`},
		{"tcp://127.0.0.1:65536", `bad port "65536"`},
		{"tcp://127.0.0.1:http", `bad port "http"`},
		{"tcp://:80", `bad host ""`},
		{"tcp://127.0.0.1:80/x", `bad port "80/x"`},
		{"http://", "no host in URL"},
		{"http:/health", "no host in URL"},
		{"http://127.0.0.1:99999/", `bad port "99999"`},
		{"http://127.0.0.1:8080/%zz", "bad URL"},
		{"exec:", `no command after "exec:"`},
		{"exec:   ", `no command after "exec:"`},
		{"exec:pgrep x | wc -l", `unquoted '|'`},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in)
		if err == nil {
			t.Errorf("Parse(%q) succeeded", tt.in)
			continue
		}
		msg := err.Error()
		for _, want := range []string{tt.err, "bad check " + quote(tt.in), "use tcp://HOST:PORT"} {
			if !strings.Contains(msg, want) {
				t.Errorf("Parse(%q) error %q does not contain %q", tt.in, msg, want)
			}
		}
	}
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

// FuzzParse checks that Parse never panics, that its errors are one line
// naming the spec, and that a parsed spec keeps its text.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"tcp://127.0.0.1:80", "http://[::1]:8080/x", "exec:sh -c 'exit 1'", "https://a/?b#c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := Parse(in)
		if err != nil {
			if strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "bad check ") {
				t.Fatalf("error %q", err)
			}
			return
		}
		if s.String() != in || s.kind == kindNone {
			t.Fatalf("Parse(%q) = %+v", in, s)
		}
	})
}
