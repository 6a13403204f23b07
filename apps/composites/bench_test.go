package composites

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkNovaURLMap routes requests through nova's urlmap composite (the
// /v2.1/+ wildcard, a domain route, the root) to text apps, so that the
// figure is the routing.
func BenchmarkNovaURLMap(b *testing.B) {
	ini := strings.ReplaceAll(novaIni, "use = egg:vietstack#echo\nname = ", "use = egg:vietstack#text\nbody = ")
	h, err := build(b, ini, "main", nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct{ name, host, target, app string }{
		{"root", "api.example.test", "/", "versions"},
		{"wildcard", "api.example.test", "/v2.1/servers/detail", "v21_api"},
		{"domain", "compute.example.test", "/v2.1/servers", "v21_domain"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			r := httptest.NewRequest("GET", tc.target, nil)
			r.Host = tc.host
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusOK || w.Body.String() != tc.app {
					b.Fatalf("%s: %d %q, want 200 from %s", tc.target, w.Code, w.Body, tc.app)
				}
			}
		})
	}
}

// BenchmarkAuthStrategy serves through nova's pipeline_factory_v21
// composite, the auth_strategy selector, with noauth2 chosen.
func BenchmarkAuthStrategy(b *testing.B) {
	ini := strings.ReplaceAll(authIni, "use = egg:vietstack#echo\nname = ", "use = egg:vietstack#text\nbody = ")
	h, err := build(b, ini, "main", map[string]string{"auth_strategy": "noauth2"})
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	b.ReportAllocs()
	for b.Loop() {
		r.Header = http.Header{"X-Auth-Token": {"bench:bench"}}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
