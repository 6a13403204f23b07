package noauth

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/vietstack/vietstack-api/pipeline"
)

// BenchmarkNoauth authenticates "X-Auth-Token: bench:bench" behind a
// generation root, before an app that may read the identity headers
// (noauth writes its 12) and before one that reads none (it records the
// caller only).
func BenchmarkNoauth(b *testing.B) {
	mw, err := New(Options{AdminUser: "admin", Roles: []string{"member", "reader"}})
	if err != nil {
		b.Fatal(err)
	}
	noop := func(http.ResponseWriter, *http.Request) {}
	for _, tc := range []struct {
		name string
		app  http.Handler
	}{
		{"headers", http.HandlerFunc(noop)},
		{"state-only", quietAppFunc(func(*http.Request) {})},
	} {
		b.Run(tc.name, func(b *testing.B) {
			h := pipeline.Root(mw(tc.app))
			w := httptest.NewRecorder()
			r := httptest.NewRequest("GET", "/v2.1/servers", nil)
			b.ReportAllocs()
			for b.Loop() {
				r.Header = http.Header{"X-Auth-Token": {"bench:bench"}, "User-Agent": {"python-novaclient"}}
				h.ServeHTTP(w, r)
			}
		})
	}
}
