//go:build linux

package sdjoincmd

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipfinder-go/ipfinder/internal/lab"
)

// TestLabHTTPCurl: curl on another lab host reads an agent's API; track
// from there is refused (403) without a token, and with one needs it
// (401 without, 200 with).
func TestLabHTTPCurl(t *testing.T) {
	t.Parallel()
	lab.NeedTools(t, "curl")
	l := lab.New(t, lab.Config{Hosts: 2})
	h0, h1 := l.Hosts[0], l.Hosts[1]
	open := fmt.Sprintf("http://%s:8500", h0.Addr)
	startLabAgent(t, h0, "open", filepath.Join(t.TempDir(), "none"), "--http", h0.Addr.String()+":8500")
	tok := "lab-token-0123456789abcdef"
	tf := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tf, []byte(tok), 0o600); err != nil {
		t.Fatal(err)
	}
	guarded := fmt.Sprintf("http://%s:8500", h1.Addr)
	startLabAgent(t, h1, "guarded", filepath.Join(t.TempDir(), "none"), "--http", h1.Addr.String()+":8500", "--http-token-file", tf)

	var rs []record
	waitFor(t, 10*time.Second, "curl -sf reading the open agent", func() bool {
		out, err := h1.Command(t.Context(), "curl", "-sf", "--max-time", "2", open+"/v1/services/svc").Output()
		return err == nil && json.Unmarshal(out, &rs) == nil && len(rs) == 1
	})
	if rs[0].Node != "open@"+h0.Addr.String() || rs[0].Meta["host"] != "open" {
		t.Errorf("curl read %+v", rs)
	}
	status := func(h *lab.Host, args ...string) string {
		t.Helper()
		args = append([]string{"-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5"}, args...)
		out, err := h.Command(t.Context(), "curl", args...).Output()
		if err != nil {
			t.Fatalf("curl %v: %v", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	for _, tc := range []struct{ name, got, want string }{
		{"PUT from the LAN, no token configured", status(h1, "-X", "PUT", open+"/v1/track/db"), "403"},
		{"DELETE from the LAN, no token configured", status(h1, "-X", "DELETE", open+"/v1/track/svc"), "403"},
		{"PUT from the LAN without the token", status(h0, "-X", "PUT", guarded+"/v1/track/db"), "401"},
		{"PUT from the LAN with the token", status(h0, "-X", "PUT", "-H", "Authorization: Bearer "+tok, guarded+"/v1/track/db", "-d", `{"meta":{"port":"5432"}}`), "200"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: HTTP %s, want %s", tc.name, tc.got, tc.want)
		}
	}
	out, err := h0.Command(t.Context(), "curl", "-sf", "--max-time", "5", guarded+"/v1/services/db").Output()
	if err != nil || !strings.Contains(string(out), `"port":"5432"`) {
		t.Errorf("db tracked with the token: %s %v", out, err)
	}
}
