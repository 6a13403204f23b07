package osprofiler

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vietstack/vietstack-api/pipeline"
)

func TestFactory(t *testing.T) {
	seen := ""
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = r.Header.Get("X-Trace-Info") })
	tests := []struct {
		name    string
		local   map[string]string
		wantErr string
	}{
		{"defaults", nil, ""},
		{"off with keys", map[string]string{"hmac_keys": "SECRET_KEY", "enabled": "false"}, ""},
		{"oslo project", map[string]string{"oslo_config_project": "aodh"}, ""},
		{"enabled yes", map[string]string{"hmac_keys": "SECRET_KEY", "enabled": "yes"}, "no profiler backend"},
		{"enabled true", map[string]string{"enabled": "True"}, "no profiler backend"},
		{"enabled garbage", map[string]string{"enabled": "maybe"}, "enabled"},
		{"unknown", map[string]string{"hmac_key": "x"}, `did you mean "hmac_keys"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &pipeline.Config{Name: "filter:osprofiler", Local: tt.local}
			mw, err := Factory(context.Background(), c)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "[filter:osprofiler]") {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "SECRET_KEY") {
					t.Error("error leaks hmac_keys")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("X-Trace-Info", "abc")
			r.Header.Set("X-Trace-HMAC", "def")
			mw(app).ServeHTTP(httptest.NewRecorder(), r)
			if seen != "abc" {
				t.Errorf("X-Trace-Info not passed through: %q", seen)
			}
		})
	}
}

func TestAliases(t *testing.T) {
	reg := pipeline.NewRegistry()
	Register(reg)
	for _, a := range append(Aliases, "egg:vietstack#osprofiler", "call:osprofiler.web:WsgiMiddleware.factory") {
		if f, ok := reg.Lookup(a, pipeline.KindFilter); !ok || f.Name != "osprofiler" {
			t.Errorf("Lookup(%q) = %v, %v", a, f, ok)
		}
	}
}

func TestPassThroughAllocs(t *testing.T) {
	h := Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	r := httptest.NewRequest("GET", "/", nil)
	w := httptest.NewRecorder()
	if n := testing.AllocsPerRun(100, func() { h.ServeHTTP(w, r) }); n != 0 {
		t.Errorf("allocs = %v, want 0", n)
	}
}

func BenchmarkPassThrough(b *testing.B) {
	h := Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	r := httptest.NewRequest("GET", "/", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}
