package ratelimit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vietstack/vietstack-api/filters/ratelimit"
	"github.com/vietstack/vietstack-api/pipeline"
	"github.com/vietstack/vietstack-api/pipeline/paste"
)

var ok = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })

func opts(rate float64, burst int, key string) ratelimit.Options {
	return ratelimit.Options{Rate: rate, Burst: burst, Key: key, IPv6Prefix: 64, MaxKeys: 1000, Sweep: time.Minute}
}

// do sends one request from remote (and project, when not empty) through
// h and returns the recorder.
func do(h http.Handler, remote, project string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = remote
	r.Header.Set("X-Test-Project", project)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// withIdentity stands in for an auth filter: it sets the pipeline identity
// from a test header.
func withIdentity(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.Header.Get("X-Test-Project"); p != "" {
			pipeline.RequestFrom(r).Identity = &pipeline.Identity{ProjectID: p}
		}
		next.ServeHTTP(w, r)
	})
}

func TestBuckets(t *testing.T) {
	type step struct {
		sleep           time.Duration
		remote, project string
		status          int
		retryAfter      string
	}
	tests := []struct {
		name  string
		o     ratelimit.Options
		steps []step
	}{
		{"ip burst then refill", opts(1, 2, "ip"), []step{
			{0, "192.0.2.1:1000", "", 204, ""},
			{0, "192.0.2.1:1001", "", 204, ""},
			{0, "192.0.2.1:1002", "", 429, "1"},
			{0, "192.0.2.2:1000", "", 204, ""}, // another client
			{500 * time.Millisecond, "192.0.2.1:1", "", 429, "1"},
			{500 * time.Millisecond, "192.0.2.1:1", "", 204, ""},
			{0, "192.0.2.1:1", "", 429, "1"},
		}},
		{"slow rate retry-after", opts(0.1, 1, "ip"), []step{
			{0, "198.51.100.7:1", "", 204, ""},
			{0, "198.51.100.7:1", "", 429, "10"},
			{4 * time.Second, "198.51.100.7:1", "", 429, "6"},
			{6 * time.Second, "198.51.100.7:1", "", 204, ""},
		}},
		{"ipv6 per /64, mapped v4 is v4", opts(1, 1, "ip"), []step{
			{0, "[2001:db8:1:2::1]:1", "", 204, ""},
			{0, "[2001:db8:1:2:ffff::9]:1", "", 429, "1"},
			{0, "[2001:db8:1:3::1]:1", "", 204, ""},
			{0, "[::ffff:192.0.2.9]:1", "", 204, ""},
			{0, "192.0.2.9:2", "", 429, "1"},
			{0, "192.0.2.10", "", 204, ""}, // bare address
		}},
		{"project", opts(1, 1, "project"), []step{
			{0, "192.0.2.1:1", "p1", 204, ""},
			{0, "192.0.2.2:1", "p1", 429, "1"}, // same project, other address
			{0, "192.0.2.1:1", "p2", 204, ""},
			{0, "192.0.2.1:1", "", 204, ""}, // unauthenticated: by address
			{0, "192.0.2.1:1", "", 429, "1"},
		}},
		{"global", opts(2, 2, "global"), []step{
			{0, "192.0.2.1:1", "", 204, ""},
			{0, "192.0.2.2:1", "", 204, ""},
			{0, "192.0.2.3:1", "", 429, "1"},
			{500 * time.Millisecond, "192.0.2.4:1", "", 204, ""},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l, err := ratelimit.New(tt.o, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer l.Close()
				h := pipeline.Root(withIdentity(l.Middleware(ok)))
				for i, s := range tt.steps {
					time.Sleep(s.sleep)
					w := do(h, s.remote, s.project)
					if w.Code != s.status {
						t.Fatalf("step %d: status %d, want %d", i, w.Code, s.status)
					}
					if got := w.Header().Get("Retry-After"); got != s.retryAfter {
						t.Errorf("step %d: Retry-After %q, want %q", i, got, s.retryAfter)
					}
					if w.Code == 429 {
						var f struct {
							Error struct {
								Code       int `json:"code"`
								RetryAfter int `json:"retry_after"`
							} `json:"error"`
						}
						if err := json.Unmarshal(w.Body.Bytes(), &f); err != nil || f.Error.Code != 429 ||
							fmt.Sprint(f.Error.RetryAfter) != s.retryAfter {
							t.Errorf("step %d: fault %q (%v)", i, w.Body, err)
						}
					}
				}
			})
		})
	}
}

func TestIdleBucketsEvicted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := opts(10, 10, "ip")
		o.Sweep = 5 * time.Second
		l, err := ratelimit.New(o, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		h := l.Middleware(ok)
		for i := range 500 {
			do(h, fmt.Sprintf("10.0.%d.%d:1", i/250, i%250), "")
		}
		if n := l.Len(); n != 500 {
			t.Fatalf("%d buckets, want 500", n)
		}
		time.Sleep(6 * time.Second) // one sweep; buckets refill in 1s
		synctest.Wait()
		if n := l.Len(); n != 0 {
			t.Errorf("%d buckets after the sweep, want 0", n)
		}
		// An active client survives sweeps (two happen during the loop).
		for range 100 {
			do(h, "10.9.9.9:1", "")
			time.Sleep(100 * time.Millisecond)
		}
		synctest.Wait()
		if n := l.Len(); n != 1 {
			t.Errorf("%d buckets, want the active one", n)
		}
	})
}

func TestMemoryBounded(t *testing.T) {
	o := opts(1, 1, "ip")
	o.MaxKeys = 64
	l, err := ratelimit.New(o, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	h := l.Middleware(ok)
	for i := range 20000 {
		do(h, fmt.Sprintf("10.%d.%d.%d:1", i>>16&255, i>>8&255, i&255), "")
	}
	if n := l.Len(); n > 64 {
		t.Errorf("%d buckets held, want at most max_keys = 64", n)
	}
}

func TestSweeperStopsOnClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, err := ratelimit.New(opts(1, 1, "ip"), nil)
		if err != nil {
			t.Fatal(err)
		}
		l.Close()
		l.Close() // idempotent
		// synctest.Test fails if the sweeper goroutine is still alive.
	})
}

func TestFactory(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct{ body, want string }{
		{"", "rate must be"},
		{"rate = 0", "rate must be"},
		{"rate = -1", "rate must be"},
		{"rate = 1\nkey = user", `key "user"`},
		{"rate = 1\nburst = -2", "burst"},
		{"rate = 1\nipv6_prefix = 129", "ipv6_prefix"},
		{"rate = 1\nmax_keys = 0", "max_keys"},
		{"rate = 1\nrates = 2", `did you mean "rate"`},
		{"rate = 5\nburst = 10\nkey = project", ""},
	} {
		path := filepath.Join(dir, "r.ini")
		os.WriteFile(path, []byte("[pipeline:main]\npipeline = rl app\n[filter:rl]\nuse = egg:vietstack#ratelimit\n"+tt.body+"\n[app:app]\nuse = egg:vietstack#ok\n"), 0o644)
		g, err := paste.Load(path, paste.Options{})
		if err != nil {
			t.Fatal(err)
		}
		reg := pipeline.NewRegistry()
		ratelimit.Register(reg)
		reg.App("ok", func(context.Context, *pipeline.Config) (http.Handler, error) { return ok, nil }, pipeline.Info{})
		gen, err := pipeline.Build(context.Background(), g, pipeline.BuildOptions{Registry: reg})
		if tt.want == "" {
			if err != nil {
				t.Errorf("%q: %v", tt.body, err)
				continue
			}
			if w := do(gen.Handler, "192.0.2.1:1", ""); w.Code != 204 {
				t.Errorf("built filter: %d", w.Code)
			}
			gen.Close()
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "r.ini:") {
			t.Errorf("%q: error %v, want a positioned %q", tt.body, err, tt.want)
		}
	}
}

type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

func TestPassAllocs(t *testing.T) {
	for _, key := range []string{"ip", "global"} {
		l, err := ratelimit.New(opts(1e9, 1e9, key), nil)
		if err != nil {
			t.Fatal(err)
		}
		h := l.Middleware(ok)
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "[2001:db8::1]:443"
		w := &nopWriter{h: http.Header{}}
		h.ServeHTTP(w, r)
		if n := testing.AllocsPerRun(1000, func() { h.ServeHTTP(w, r) }); n != 0 {
			t.Errorf("key %s: %v allocs per allowed request, want 0", key, n)
		}
		l.Close()
	}
}

func BenchmarkRateLimit(b *testing.B) {
	for _, key := range []string{"ip", "global"} {
		b.Run(key, func(b *testing.B) {
			l, _ := ratelimit.New(opts(1e9, 1e9, key), nil)
			defer l.Close()
			h := l.Middleware(ok)
			r := httptest.NewRequest("GET", "/", nil)
			w := &nopWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
		})
	}
}
