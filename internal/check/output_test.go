package check

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClean(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ok\n", "ok"},
		{"line1\nline2\r\n", `line1\nline2`},
		{"tab\there", `tab\there`},
		{"\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`},
		{"nul\x00del\x7f", `nul\x00del\x7f`},
		{"bad\xffutf8", `bad\xffutf8`},
		{"c1\u0085 bidi\u202e zw\u200b", `c1\u0085 bidi\u202e zw\u200b`},
		{"ünï€ode ✓ back\\slash \"q\"", "ünï€ode ✓ back\\slash \"q\""},
	}
	for _, tt := range tests {
		if got := clean(tt.in); got != tt.want {
			t.Errorf("clean(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCleanBounds(t *testing.T) {
	for _, in := range []string{
		strings.Repeat("a", MaxOutput),
		strings.Repeat("a", MaxOutput+1),
		strings.Repeat("€", MaxOutput),
		strings.Repeat("\x00", MaxOutput),
	} {
		got := clean(in)
		if len(got) > MaxOutput || !utf8.ValidString(got) {
			t.Errorf("clean(%d bytes of %q) = %d bytes, valid UTF-8 %v", len(in), in[:1], len(got), utf8.ValidString(got))
		}
		if fits := len(in) <= MaxOutput && in[0] == 'a'; fits != (got == in) {
			t.Errorf("clean(%d bytes of %q) cut = %v, want %v", len(in), in[:1], got != in, !fits)
		}
	}
}

func TestTailBuffer(t *testing.T) {
	var b tailBuffer
	b.Write([]byte("€"))
	b.Write([]byte(strings.Repeat("x", MaxOutput-2) + "end"))
	got := b.String()
	if !strings.HasPrefix(got, "...") || !strings.HasSuffix(got, "end") || !utf8.ValidString(got) {
		t.Fatalf("tail = %q...%q", got[:8], got[len(got)-8:])
	}
	if len(got) > MaxOutput+3 {
		t.Fatalf("tail is %d bytes", len(got))
	}
}

func FuzzClean(f *testing.F) {
	f.Add("a\x1b\n\xff€\u202e")
	f.Fuzz(func(t *testing.T, in string) {
		got := clean(in)
		if len(got) > MaxOutput || !utf8.ValidString(got) {
			t.Fatalf("clean(%q) = %q", in, got)
		}
		for _, r := range got {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
				t.Fatalf("clean(%q) kept control %U", in, r)
			}
		}
	})
}

func TestPrefixedKeepsPrefixAndTail(t *testing.T) {
	out := strings.Repeat("line\n", 2000) + "last"
	got := prefixed("exit status 1", out)
	if !strings.HasPrefix(got, "exit status 1: ...") || !strings.HasSuffix(got, `line\nlast`) || len(got) > MaxOutput {
		t.Fatalf("prefixed = %q...%q (%d bytes)", got[:20], got[len(got)-20:], len(got))
	}
	if got := prefixed(strings.Repeat("p", 2*MaxOutput), out); len(got) > MaxOutput || !strings.HasSuffix(got, "last") {
		t.Fatalf("long prefix: %d bytes", len(got))
	}
	if got := prefixed("exit status 1", ""); got != "exit status 1" {
		t.Fatalf("no output: %q", got)
	}
}
