package check

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var wordCases = []struct {
	in   string
	want []string
}{
	{"true", []string{"true"}},
	{"  pg_isready  -h\t127.0.0.1 ", []string{"pg_isready", "-h", "127.0.0.1"}},
	{`sh -c 'curl -fs localhost | grep ok'`, []string{"sh", "-c", "curl -fs localhost | grep ok"}},
	{`echo "a b" 'c d' e\ f`, []string{"echo", "a b", "c d", "e f"}},
	{`echo "q\"uote" "back\\slash" "\$HOME" "\x"`, []string{"echo", `q"uote`, `back\slash`, "$HOME", `\x`}},
	{`echo '' "" x''y`, []string{"echo", "", "", "xy"}},
	{`echo 'it'\''s'`, []string{"echo", "it's"}},
	{`curl 'http://127.0.0.1/health?full=1'`, []string{"curl", "http://127.0.0.1/health?full=1"}},
	{`echo a~b c#d x=y {a,b}`, []string{"echo", "a~b", "c#d", "x=y", "{a,b}"}},
	{"echo \\\nx", []string{"echo", "x"}},
	{`echo '$HOME' "*" \*`, []string{"echo", "$HOME", "*", "*"}},
	{"echo ünï€ode", []string{"echo", "ünï€ode"}},
}

// TestSplitWordsLikeSh checks splitWords against sh itself: a command line
// it accepts gives the same argv when sh runs it.
func TestSplitWordsLikeSh(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh to compare with:", err)
	}
	for _, tt := range wordCases {
		got, err := splitWords(tt.in)
		if err != nil {
			t.Errorf("splitWords(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("splitWords(%q) (-want +got):\n%s", tt.in, diff)
		}
		// printf repeats its format for each word.
		out, err := exec.Command(sh, "-c", `printf '%s\0' `+tt.in).Output()
		if err != nil {
			t.Errorf("sh -c %q: %v", tt.in, err)
			continue
		}
		shWords := strings.Split(string(bytes.TrimSuffix(out, []byte{0})), "\x00")
		if diff := cmp.Diff(shWords, got); diff != "" {
			t.Errorf("%q: sh (-) and splitWords (+) disagree:\n%s", tt.in, diff)
		}
	}
}

func TestSplitWordsRejects(t *testing.T) {
	tests := []struct{ in, err string }{
		{"pgrep x | wc -l", `unquoted '|'`},
		{"check; rm", `unquoted ';'`},
		{"check && ok", `unquoted '&'`},
		{"check > /tmp/x", `unquoted '>'`},
		{"echo $HOME", `unquoted '$'`},
		{"echo `id`", "unquoted '`'"},
		{"echo $(id)", `unquoted '$'`},
		{"ls *.txt", `unquoted '*'`},
		{"ls ?", `unquoted '?'`},
		{"ls [ab]", `unquoted '['`},
		{"~/bin/check", `unquoted '~'`},
		{"check #comment", `unquoted '#'`},
		{"a\nb", `unquoted '\n'`},
		{`echo "$HOME"`, `'$' inside double quotes`},
		{"echo \"`id`\"", "'`' inside double quotes"},
		{"echo 'open", "unterminated single quote"},
		{`echo "open`, "unterminated double quote"},
		{`echo \`, "trailing backslash"},
		{"echo a\x00b", "NUL byte"},
	}
	for _, tt := range tests {
		_, err := splitWords(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("splitWords(%q) error = %v, want %q", tt.in, err, tt.err)
		}
	}
}

// quoteWords quotes words for sh (and splitWords) with single quotes.
func quoteWords(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

// FuzzSplitWords checks that splitWords never panics and that what it
// accepts survives quoting and splitting again.
func FuzzSplitWords(f *testing.F) {
	for _, tt := range wordCases {
		f.Add(tt.in)
	}
	f.Add(`a "b\"c" 'd'\''e' \f`)
	f.Fuzz(func(t *testing.T, in string) {
		words, err := splitWords(in)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error on two lines: %q", err)
			}
			return
		}
		again, err := splitWords(quoteWords(words))
		if err != nil {
			t.Fatalf("quoted %q: %v", words, err)
		}
		if diff := cmp.Diff(words, again); len(words) > 0 && diff != "" {
			t.Fatalf("round trip of %q (-first +again):\n%s", in, diff)
		}
	})
}
