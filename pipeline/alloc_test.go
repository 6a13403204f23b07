package pipeline

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// nopWriter is a reusable ResponseWriter that allocates nothing.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *nopWriter) WriteHeader(int)             {}

func passThrough(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { next.ServeHTTP(w, r) })
}

var okBody = []byte("ok")

func chain(n int) http.Handler {
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(okBody) })
	for i := 0; i < n; i++ {
		h = passThrough(h)
	}
	return h
}

// TestAllocsPassThroughChain guards the hot path: pass-through filters add
// no allocation, and the Root state costs a fixed budget whatever the
// chain's length.
func TestAllocsPassThroughChain(t *testing.T) {
	w := &nopWriter{h: http.Header{}}
	r := httptest.NewRequest("GET", "/v2.1/servers", nil)
	bare := testing.AllocsPerRun(200, func() { chain(10).ServeHTTP(w, r) })
	_ = bare
	h10 := chain(10)
	if a := testing.AllocsPerRun(200, func() { h10.ServeHTTP(w, r) }); a != 0 {
		t.Errorf("10 pass-through filters: %v allocs/op, want 0", a)
	}
	root1, root10 := Root(chain(1)), Root(chain(10))
	a1 := testing.AllocsPerRun(200, func() { root1.ServeHTTP(w, r) })
	a10 := testing.AllocsPerRun(200, func() { root10.ServeHTTP(w, r) })
	if a1 != a10 {
		t.Errorf("root + 1 filter: %v allocs, root + 10 filters: %v allocs; filters must add none", a1, a10)
	}
	// One state allocation: the Request, the writer, the context and the
	// request copy.
	t.Logf("root + 10 filters: %v allocs/op", a10)
	if a10 > rootAllocBudget {
		t.Errorf("root: %v allocs/op, budget %d", a10, rootAllocBudget)
	}
}

// rootAllocBudget is the documented per-request allocation cost of Root:
// the shared state (Request, writer, URL copy, context and the request
// copy WithContext makes, in one object).
const rootAllocBudget = 1

func TestAllocsSwitch(t *testing.T) {
	w := &nopWriter{h: http.Header{}}
	r := httptest.NewRequest("GET", "/", nil)
	s := NewSwitch(&Generation{Handler: chain(10)})
	if a := testing.AllocsPerRun(200, func() { s.ServeHTTP(w, r) }); a != 0 {
		t.Errorf("switch: %v allocs/op, want 0", a)
	}
	s.Swap(&Generation{Handler: chain(1)}, time.Hour)
	if a := testing.AllocsPerRun(200, func() { s.ServeHTTP(w, r) }); a != 0 {
		t.Errorf("switch after swap: %v allocs/op, want 0", a)
	}
}

func TestAllocsURLMap(t *testing.T) {
	w := &nopWriter{h: http.Header{}}
	m := &urlMap{routes: []mapRoute{{domain: "api.example.com", h: chain(0)}, {path: "/v2.1", h: chain(0)}, {h: chain(0)}}}
	m.init()
	h := Root(m)
	r := httptest.NewRequest("GET", "/v2.1/servers", nil)
	base := testing.AllocsPerRun(200, func() { Root(chain(0)).ServeHTTP(w, r) })
	_ = base
	rootOnly := Root(chain(0))
	a0 := testing.AllocsPerRun(200, func() { rootOnly.ServeHTTP(w, r) })
	a := testing.AllocsPerRun(200, func() { h.ServeHTTP(w, r) })
	// The script name concatenation is the only extra allocation.
	if a > a0+1 {
		t.Errorf("urlmap: %v allocs/op over root's %v; want at most 1 more", a, a0)
	}
}

func BenchmarkChain10(b *testing.B) {
	w := &nopWriter{h: http.Header{}}
	r := httptest.NewRequest("GET", "/", nil)
	h := Root(chain(10))
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

func BenchmarkSwitch(b *testing.B) {
	w := &nopWriter{h: http.Header{}}
	r := httptest.NewRequest("GET", "/", nil)
	s := NewSwitch(&Generation{Handler: chain(0)})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.ServeHTTP(w, r)
		}
	})
}

func BenchmarkURLMap(b *testing.B) {
	w := &nopWriter{h: http.Header{}}
	m := &urlMap{routes: []mapRoute{{domain: "api.example.com", h: chain(0)}, {path: "/v2.1", h: chain(0)}, {path: "/v2", h: chain(0)}, {h: chain(0)}}}
	m.init()
	h := Root(m)
	r := httptest.NewRequest("GET", "/v2.1/servers", nil)
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}
