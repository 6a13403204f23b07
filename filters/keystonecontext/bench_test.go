package keystonecontext

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/vietstack/vietstack-api/filters/noauth"
	"github.com/vietstack/vietstack-api/pipeline"
)

// BenchmarkKeystoneContext serves behind noauth, which established the
// caller (the filter's work is the check), and with trust_headers from
// identity headers a trusted front end set (the filter parses them).
func BenchmarkKeystoneContext(b *testing.B) {
	app := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	na, err := noauth.New(noauth.Options{AdminUser: "admin"})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("after-noauth", func(b *testing.B) {
		h := pipeline.Root(na(New(Options{})(quiet{app})))
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/", nil)
		b.ReportAllocs()
		for b.Loop() {
			r.Header = http.Header{"X-Auth-Token": {"bench:bench"}}
			h.ServeHTTP(w, r)
		}
	})
	b.Run("trusted-headers", func(b *testing.B) {
		h := pipeline.Root(New(Options{TrustHeaders: true})(app))
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/", nil)
		b.ReportAllocs()
		for b.Loop() {
			r.Header = http.Header{"X-Identity-Status": {"Confirmed"}, "X-User-Id": {"u1"}, "X-Project-Id": {"p1"},
				"X-Roles": {"member,reader"}}
			h.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d", w.Code)
			}
		}
	})
}
