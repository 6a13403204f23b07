package boom

import (
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/vietstack/vietstack-api/pipeline"
)

// BenchmarkPanicAnswered is what one panic costs a pipeline: boom panics,
// the generation root logs it (with the stack, to a discarding logger
// here) and answers the JSON 500.
func BenchmarkPanicAnswered(b *testing.B) {
	h, err := New(Options{Message: "bench", When: "call"})
	if err != nil {
		b.Fatal(err)
	}
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.DiscardHandler))
	defer slog.SetDefault(prev)
	root := pipeline.Root(h)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		root.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		if w.Code != 500 {
			b.Fatalf("status %d, want 500", w.Code)
		}
	}
}
