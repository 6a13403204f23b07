package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/vietstack/vietstack-api/pipeline"
)

// seedSwitch builds the built-in configuration as the daemon serves it.
func seedSwitch(tb testing.TB) *pipeline.Switch {
	tb.Helper()
	o, err := parseArgs(nil)
	if err != nil {
		tb.Fatal(err)
	}
	src := newSource(o, newRegistry(), slog.New(slog.DiscardHandler))
	gen, _, errs := src.buildApp(context.Background())
	if errs != nil {
		tb.Fatal(errs)
	}
	tb.Cleanup(func() { gen.Close() })
	return pipeline.NewSwitch(gen)
}

// discardWriter is a ResponseWriter that allocates nothing per request.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(int)             {}
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }

// seedAllocBudget is the allocation budget of one request through the seed
// pipeline (switch, root, passthrough, hello): the root's request state and
// its one r.WithContext (a context value and the request copy), and the two
// header values hello sets. The switch and passthrough add none.
const seedAllocBudget = 5

func TestSeedPipelineAllocs(t *testing.T) {
	sw := seedSwitch(t)
	r := httptest.NewRequest("GET", "/", nil)
	w := &discardWriter{h: http.Header{}}
	n := testing.AllocsPerRun(1000, func() {
		clear(w.h)
		sw.ServeHTTP(w, r)
	})
	if n > seedAllocBudget {
		t.Errorf("%v allocations per request through the seed pipeline, budget %d", n, seedAllocBudget)
	}
	t.Logf("%v allocations per request", n)
}

func BenchmarkSeedPipeline(b *testing.B) {
	sw := seedSwitch(b)
	r := httptest.NewRequest("GET", "/", nil)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		sw.ServeHTTP(w, r)
	}
}
