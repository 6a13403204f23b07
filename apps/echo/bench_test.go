package echo

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkEcho answers a GET and a 1 KiB POST with their JSON
// description (the body hashed).
func BenchmarkEcho(b *testing.B) {
	h, err := New(Options{Name: "bench", MaxBodySize: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	body := strings.Repeat("x", 1024)
	for _, method := range []string{"GET", "POST"} {
		b.Run(method, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var rd io.Reader
				if method == "POST" {
					rd = strings.NewReader(body)
				}
				r := httptest.NewRequest(method, "/v2.1/servers?limit=1", rd)
				r.Header.Set("X-Auth-Token", "bench:bench")
				r.Header.Set("User-Agent", "python-novaclient")
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}
