package text

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// discardWriter is a reusable ResponseWriter that allocates nothing.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkText answers GET with a 57-byte body (the benchmarks' app).
func BenchmarkText(b *testing.B) {
	h, err := New(Options{Status: "200 OK", Body: "From VietStack: Wellcome the 8th Meetup of VietOpenStack.",
		ContentType: "text/plain; charset=UTF-8", MaxBodySize: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	w := &discardWriter{h: http.Header{}}
	r := httptest.NewRequest("GET", "/", nil)
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, r)
	}
}
