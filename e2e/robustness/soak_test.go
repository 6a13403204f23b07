package robustness

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// soakRequests is the CI size of K1; ROBUSTNESS_SOAK sets another
// (`make soak` runs 1,000,000).
func soakRequests(t *testing.T) int {
	n := 200_000
	if s := os.Getenv("ROBUSTNESS_SOAK"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			t.Fatalf("ROBUSTNESS_SOAK=%q: want a positive request count", s)
		}
		n = v
	}
	return n
}

// soakMix is the request mix: route, method, body, the status expected,
// and its weight in 1000.
var soakMix = []struct {
	method, path string
	body         int
	status       int
	weight       int
}{
	{"GET", "/echo/servers", 0, 200, 400},
	{"POST", "/echo/servers", 200, 200, 150},
	{"GET", "/auth/servers", 0, 200, 150}, // with a token
	{"GET", "/static/a.txt", 0, 200, 100},
	{"GET", "/nowhere", 0, 404, 100},
	{"POST", "/limited/x", 2000, 413, 40},
	{"GET", "/auth/servers?anon", 0, 401, 50},
	{"GET", "/boom/x", 0, 500, 10}, // 1 % panics
}

// TestSoak is K1 (CI-sized): 200,000 mixed requests from 32 keep-alive
// clients (about 1 % panics, 4 % over the body limit, which closes the
// connection), and K2: every /echo request has a path of its own (55 % of
// them, 110,000 distinct URLs through the access log and the metrics
// filter, whose route labels must stay bounded); afterwards the daemon's goroutines and descriptors are at
// most 5 above the baseline taken after a warm-up, and its heap in use at
// most 5 MiB above it.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak: not under -short (make test runs it)")
	}
	d := startDaemon(t, suiteIni, suiteFiles)
	d.allowErrors(`panic`)
	total := soakRequests(t)
	c := newClient()

	var picks []int
	for i, m := range soakMix {
		for range m.weight {
			picks = append(picks, i)
		}
	}
	var (
		done   atomic.Int64
		counts = make([]atomic.Int64, len(soakMix))
		bad    atomic.Int64
		first  sync.Once
		badMsg string
	)
	run := func(n int) {
		var wg sync.WaitGroup
		var next atomic.Int64
		for w := range 32 {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(w), 7))
				for next.Add(1) <= int64(n) {
					i := picks[rng.IntN(len(picks))]
					m := soakMix[i]
					var body io.Reader
					if m.body > 0 {
						body = strings.NewReader(strings.Repeat("s", m.body))
					}
					path := m.path
					if strings.HasPrefix(path, "/echo/") {
						path += "/" + strconv.FormatUint(rng.Uint64(), 36)
					}
					req, _ := http.NewRequest(m.method, d.url(path), body)
					if m.path == "/auth/servers" {
						req.Header.Set("X-Auth-Token", "soak:demo")
					}
					resp, err := c.Do(req)
					if err != nil {
						bad.Add(1)
						first.Do(func() { badMsg = err.Error() })
						continue
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != m.status {
						bad.Add(1)
						first.Do(func() { badMsg = fmt.Sprintf("%s %s: %d", m.method, m.path, resp.StatusCode) })
					}
					counts[i].Add(1)
					done.Add(1)
				}
			})
		}
		wg.Wait()
	}
	run(2000)
	c.CloseIdleConnections()
	g0 := settledGoroutines(t, d, c, -1)
	f0 := d.openFDs()
	h0 := d.metric(c, "go_memstats_heap_inuse_bytes")
	c.CloseIdleConnections()

	start := time.Now()
	run(total)
	el := time.Since(start)
	d.alive()
	c.CloseIdleConnections()
	g1 := settledGoroutines(t, d, c, g0+5)
	var f1 int
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if f1 = d.openFDs(); f1 <= f0+5 || time.Now().After(deadline) {
			break
		}
	}
	h1 := d.metric(c, "go_memstats_heap_inuse_bytes")
	series := d.series(c, "vietstack_http_requests_total")
	c.CloseIdleConnections()

	t.Logf("%d requests in %v (%.0f/s); goroutines %d -> %d, fds %d -> %d, heap in use %.1f -> %.1f MiB, %d request-counter series",
		total, el.Round(time.Millisecond), float64(total)/el.Seconds(), g0, g1, f0, f1, h0/(1<<20), h1/(1<<20), series)
	if n := bad.Load(); n > 0 {
		t.Errorf("%d requests failed or got an unexpected status; first: %s", n, badMsg)
	}
	if g1 > g0+5 {
		t.Errorf("goroutines %d -> %d", g0, g1)
	}
	if f1 > f0+5 {
		t.Errorf("file descriptors %d -> %d", f0, f1)
	}
	// max_routes (64) route labels, "other", a few methods and status
	// classes: bounded whatever the number of distinct URLs.
	if series > 500 {
		t.Errorf("%d vietstack_http_requests_total series after %d distinct URLs", series, total/2)
	}
	if h1 > h0+5<<20 {
		t.Errorf("heap in use %.1f -> %.1f MiB", h0/(1<<20), h1/(1<<20))
	}
}
