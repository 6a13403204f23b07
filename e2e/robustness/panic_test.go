package robustness

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// leaks are strings a fault answer must never hold: the panic message and
// what it names, Go type, file and stack markers.
var leaks = []string{"secret-token", "/srv/internal", "db.go", "boom.Error", "goroutine ", ".go:", "runtime/", "panic("}

// TestPanics is P1-P3: a panic before the first write is a JSON 500 with
// the request id and nothing from the panic; after the response started
// the connection is aborted (never a complete-looking 200); a panic with
// no fault filter in front is still a clean 500; one ERROR record per
// panic, with credentials masked; the daemon keeps serving.
func TestPanics(t *testing.T) {
	d := startDaemon(t, suiteIni, suiteFiles)
	d.allowErrors(`panic`)
	c := newClient()
	secrets := map[string]string{
		"X-Auth-Token":    "tok-AAAA1111",
		"Authorization":   "Basic c2VjcmV0OnBhc3N3b3Jk",
		"Cookie":          "session=cookie-BBBB2222",
		"X-Subject-Token": "tok-CCCC3333",
		"X-Service-Token": "tok-DDDD4444",
	}
	for _, path := range []string{"/boom/x", "/bare-boom/x"} {
		t.Run(path, func(t *testing.T) {
			req, _ := http.NewRequest("GET", d.url(path), nil)
			for k, v := range secrets {
				req.Header.Set(k, v)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 500 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				t.Fatalf("got %d %s %.300q, want a JSON 500", resp.StatusCode, resp.Header.Get("Content-Type"), b)
			}
			var fault map[string]any
			if err := json.Unmarshal(b, &fault); err != nil {
				t.Errorf("fault is not JSON: %.300q", b)
			}
			for _, l := range leaks {
				if strings.Contains(string(b), l) {
					t.Errorf("fault body leaks %q: %.300q", l, b)
				}
			}
			if id := resp.Header.Get("X-Openstack-Request-Id"); path == "/boom/x" && (id == "" || !strings.Contains(string(b), id)) {
				t.Errorf("fault %.300q does not carry the request id %q", b, id)
			}
		})
	}
	t.Run("late panic aborts", func(t *testing.T) {
		conn, err := net.Dial("tcp", d.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(8 * time.Second))
		_, _ = io.WriteString(conn, rq("GET /late/x HTTP/1.1", "Host: x"))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			return // aborted before the status line: fine
		}
		b, err := io.ReadAll(resp.Body)
		if resp.StatusCode == 200 && err == nil {
			t.Fatalf("a late panic looked like a complete 200: %.300q", b)
		}
		for _, l := range leaks {
			if strings.Contains(string(b), l) {
				t.Errorf("answer leaks %q: %.300q", l, b)
			}
		}
	})
	// The daemon lives, and every panic was logged once, masked.
	resp, err := newClient().Get(d.url("/echo/after"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("after the panics /echo answered %d", resp.StatusCode)
	}
	time.Sleep(200 * time.Millisecond)
	recs := d.errorRecords()
	if len(recs) != 3 {
		t.Errorf("%d ERROR records for 3 panics:\n%s", len(recs), d.logText())
	}
	log := d.logText()
	for k, v := range secrets {
		secret := v[len(v)-8:]
		if strings.Contains(log, secret) {
			t.Errorf("the log holds the %s value", k)
		}
	}
	if !strings.Contains(log, "goroutine ") && !strings.Contains(log, ".go:") {
		t.Errorf("no stack in the log for the operator:\n%.2000s", log)
	}
}

// TestPanicFlood is P6: 1,000 panics leave the daemon's goroutines and
// file descriptors where they were.
func TestPanicFlood(t *testing.T) {
	d := startDaemon(t, suiteIni, suiteFiles)
	d.allowErrors(`panic`)
	c := newClient()
	get := func(path string) int {
		resp, err := c.Get(d.url(path))
		if err != nil {
			t.Error(err)
			return 0
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for range 20 {
		get("/boom/x")
	}
	c.CloseIdleConnections()
	g0, f0 := settledGoroutines(t, d, c, -1), d.openFDs()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < 1000; i += 8 {
				if s := get("/boom/x"); s != 500 {
					t.Errorf("panic %d answered %d", i, s)
					return
				}
			}
		})
	}
	wg.Wait()
	c.CloseIdleConnections()
	g1 := settledGoroutines(t, d, c, g0+5)
	if f1 := d.openFDs(); f1 > f0+5 {
		t.Errorf("file descriptors %d -> %d after 1,000 panics", f0, f1)
	}
	if g1 > g0+5 {
		t.Errorf("goroutines %d -> %d after 1,000 panics", g0, g1)
	}
	if n := len(d.errorRecords()); n != 1020 {
		t.Errorf("%d ERROR records for 1,020 panics", n)
	}
}

// settledGoroutines returns the daemon's goroutine count once it is at
// most want (or, with want < 0, once it stops falling), waiting up to
// 15 s; the scrape's own connection is closed first.
func settledGoroutines(t *testing.T, d *daemon, c *http.Client, want int) int {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	prev := -1
	for {
		g := int(d.metric(c, "go_goroutines"))
		c.CloseIdleConnections()
		if want >= 0 && g <= want || want < 0 && g == prev || time.Now().After(deadline) {
			return g
		}
		prev = g
		time.Sleep(250 * time.Millisecond)
	}
}
