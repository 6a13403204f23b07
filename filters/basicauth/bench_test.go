package basicauth

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkBasicAuth checks valid credentials: the first request pays
// bcrypt, every later one hits the filter's cache of verified
// credentials, which is what this measures.
func BenchmarkBasicAuth(b *testing.B) {
	h, _ := build(b, map[string]string{"http_basic_auth_user_file": "testdata/users.htpasswd"})
	auth := basic("alice", "alice-secret")
	if w := send(h, auth); w.Code != http.StatusOK {
		b.Fatalf("status %d", w.Code)
	}
	r := httptest.NewRequest("GET", "/", nil)
	b.ReportAllocs()
	for b.Loop() {
		r.Header = http.Header{"Authorization": {auth}}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}
