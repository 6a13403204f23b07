package echo

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type brokenBody struct{}

func (brokenBody) Read([]byte) (int, error) { return 0, errors.New("connection reset") }
func (brokenBody) Close() error             { return nil }

// TestDiscardBodyAnswersAsReadBody: DiscardBody reads the same bytes and
// answers every failure exactly as ReadBody does.
func TestDiscardBodyAnswersAsReadBody(t *testing.T) {
	tests := []struct {
		name string
		body func() io.ReadCloser
		max  int64
		n    int64
		ok   bool
	}{
		{"no body", func() io.ReadCloser { return http.NoBody }, 10, 0, true},
		{"at the limit", func() io.ReadCloser { return io.NopCloser(strings.NewReader("0123456789")) }, 10, 10, true},
		{"one over", func() io.ReadCloser { return io.NopCloser(strings.NewReader("0123456789a")) }, 10, 11, false},
		{"read error", func() io.ReadCloser { return brokenBody{} }, 10, 0, false},
		{"max bytes error", func() io.ReadCloser {
			return http.MaxBytesReader(nil, io.NopCloser(strings.NewReader("0123456789")), 3)
		}, 10, 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", nil)
			r.Body = tt.body()
			w := httptest.NewRecorder()
			n, ok := DiscardBody(w, r, tt.max)
			if n != tt.n || ok != tt.ok {
				t.Fatalf("DiscardBody = %d, %v; want %d, %v", n, ok, tt.n, tt.ok)
			}
			r2 := httptest.NewRequest("POST", "/", nil)
			r2.Body = tt.body()
			w2 := httptest.NewRecorder()
			n2, _, ok2 := ReadBody(w2, r2, tt.max)
			if n2 != n || ok2 != ok || w2.Code != w.Code || w2.Body.String() != w.Body.String() {
				t.Errorf("ReadBody answered %d %q (%d, %v), DiscardBody %d %q (%d, %v)",
					w2.Code, w2.Body, n2, ok2, w.Code, w.Body, n, ok)
			}
		})
	}
}

// TestDiscardBodyAllocs: no body costs nothing; a nil Body (a handler
// called directly) is no body.
func TestDiscardBodyAllocs(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	w := httptest.NewRecorder()
	r.Body = nil
	if n, ok := DiscardBody(w, r, 1); n != 0 || !ok {
		t.Errorf("nil body: %d, %v", n, ok)
	}
	r.Body = http.NoBody
	if n := testing.AllocsPerRun(100, func() { DiscardBody(w, r, 1<<20) }); n != 0 {
		t.Errorf("DiscardBody of a GET allocates %v times", n)
	}
}
