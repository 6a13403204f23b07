package main

import (
	"io"
	"net/http/httptest"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when any goroutine started by them is
// still running once they have all finished.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestBody pins the answer to the 57 bytes the nova-like pipeline serves.
func TestBody(t *testing.T) {
	if len(Body) != 57 {
		t.Fatalf("body is %d bytes, want 57", len(Body))
	}
	w := httptest.NewRecorder()
	handle(w, httptest.NewRequest("GET", "/", nil))
	b, _ := io.ReadAll(w.Result().Body)
	if w.Code != 200 || string(b) != Body || w.Header().Get("Content-Type") != "text/plain; charset=UTF-8" || w.Header().Get("Content-Length") != "57" {
		t.Fatalf("got %d %q %v", w.Code, b, w.Header())
	}
}
