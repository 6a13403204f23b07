package robustness

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestAccessLogHostile is Q2: requests whose paths hold percent-encoded
// CR, LF, ESC, NUL and bidi controls, 8 KiB paths and User-Agents with
// invisible Unicode give exactly one access-log line each, every line one
// valid JSON object without a raw control or bidi character and within the
// documented cap (~16 KiB), and the path field cut at 2048 bytes.
func TestAccessLogHostile(t *testing.T) {
	d := startDaemon(t, suiteIni, suiteFiles)
	c := newClient()
	paths := []string{
		"/echo/%0d%0aFAKE%20200%20OK", "/echo/%1b%5b31mred%1b%5b0m", "/echo/a%00b", "/echo/%e2%80%aeevil",
		"/echo/" + strings.Repeat("%0a", 3000), "/echo/" + strings.Repeat("x", 8<<10), "/echo/%22%5c%22quoted",
		"/echo/%ff%fe-invalid-utf8",
	}
	uas := []string{"curl/8", "\u202egnp.exe", "a\u200bb", strings.Repeat("U", 4096)}
	const n = 2000
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				req, err := http.NewRequest("GET", d.url(paths[i%len(paths)]), nil)
				if err != nil {
					t.Error(err)
					return
				}
				req.Header.Set("User-Agent", uas[i%len(uas)])
				resp, err := c.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	c.CloseIdleConnections()
	var lines [][]byte
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		data, err := os.ReadFile(filepath.Join(d.dir, "access.log"))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		lines = bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
		if len(lines) >= n || time.Now().After(deadline) {
			break
		}
	}
	if len(lines) != n {
		t.Fatalf("%d access-log lines for %d requests", len(lines), n)
	}
	longest := 0
	for i, l := range lines {
		longest = max(longest, len(l))
		var rec struct {
			Path      string `json:"path"`
			UserAgent string `json:"user_agent"`
		}
		if err := json.Unmarshal(l, &rec); err != nil {
			t.Fatalf("line %d is not one JSON object: %v: %.300q", i, err, l)
		}
		for _, b := range l {
			if b < 0x20 || b == 0x7f {
				t.Fatalf("line %d holds a raw control byte %#x: %.300q", i, b, l)
			}
		}
		if bytes.Contains(l, []byte("\u202e")) || bytes.Contains(l, []byte("\u200b")) {
			t.Fatalf("line %d holds a raw invisible or bidi character: %.300q", i, l)
		}
		if len(l) > 16<<10 || len(rec.Path) > 2048+len("...")+4*2048 {
			t.Fatalf("line %d is %d bytes", i, len(l))
		}
	}
	t.Logf("%d lines, longest %d bytes", len(lines), longest)
}

var requestIDRE = regexp.MustCompile(`^req-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestRequestIDs is Q1: only an inbound X-Openstack-Request-Id of the
// form req-<uuid> becomes the global request id; every answer carries a
// fresh req-<uuid4> of the server's own.
func TestRequestIDs(t *testing.T) {
	d := startDaemon(t, suiteIni, suiteFiles)
	c := newClient()
	valid := "req-3f2504e0-4f89-41d3-9a0c-0305e82c3301"
	tests := []struct {
		inbound []string
		global  string
	}{
		{nil, ""},
		{[]string{valid}, valid},
		{[]string{"req-123"}, ""},
		{[]string{"3f2504e0-4f89-41d3-9a0c-0305e82c3301"}, ""},
		{[]string{valid + "x"}, ""},
		{[]string{" " + valid + "\t"}, valid}, // optional whitespace is not part of a field value (RFC 9110 §5.5)
		{[]string{"req-" + strings.Repeat("a", 10<<10)}, ""},
		{[]string{valid + "," + valid}, ""},
		{[]string{"req-3f2504e0-4f89-41d3-9a0c-0305e82c3301\u202e"}, ""},
		{[]string{"<script>alert(1)</script>"}, ""},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		req, _ := http.NewRequest("GET", d.url("/echo/ids"), nil)
		req.Header["X-Openstack-Request-Id"] = tt.inbound
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var doc struct {
			RequestID       *string `json:"request_id"`
			GlobalRequestID *string `json:"global_request_id"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%q: %v %.200q", tt.inbound, err, b)
		}
		id := resp.Header.Get("X-Openstack-Request-Id")
		if !requestIDRE.MatchString(id) || seen[id] || id == valid {
			t.Errorf("%.60q: answer id %q is not a fresh req-<uuid4>", tt.inbound, id)
		}
		seen[id] = true
		if doc.RequestID == nil || *doc.RequestID != id {
			t.Errorf("%.60q: the app saw request id %v, the answer carries %q", tt.inbound, doc.RequestID, id)
		}
		got := ""
		if doc.GlobalRequestID != nil {
			got = *doc.GlobalRequestID
		}
		if got != tt.global {
			t.Errorf("%.60q: global request id %.80q, want %q", tt.inbound, got, tt.global)
		}
	}
}
