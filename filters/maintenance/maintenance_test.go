package maintenance_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vietstack/vietstack-api/filters/maintenance"
	"github.com/vietstack/vietstack-api/pipeline"
	"github.com/vietstack/vietstack-api/pipeline/paste"
)

var ok = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })

func TestFlagFile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		flag := filepath.Join(t.TempDir(), "maintenance")
		f, err := maintenance.New(maintenance.Options{FlagFile: flag, RetryAfter: 90 * time.Second, CheckInterval: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		h := f.Middleware(ok)
		get := func(method string) *httptest.ResponseRecorder {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(method, "/", nil))
			return w
		}
		if w := get("GET"); w.Code != 204 {
			t.Fatalf("no flag: %d", w.Code)
		}
		os.WriteFile(flag, nil, 0o644)
		if w := get("GET"); w.Code != 204 {
			t.Errorf("checked again within the interval: %d", w.Code)
		}
		time.Sleep(time.Second)
		w := get("GET")
		if w.Code != 503 || w.Header().Get("Retry-After") != "90" || !strings.Contains(w.Body.String(), `"code": 503`) {
			t.Fatalf("flag on: %d %q %s", w.Code, w.Header().Get("Retry-After"), w.Body)
		}
		if w := get("HEAD"); w.Code != 503 || w.Body.Len() != 0 {
			t.Errorf("HEAD: %d %q", w.Code, w.Body)
		}
		os.Remove(flag)
		if w := get("GET"); w.Code != 503 {
			t.Errorf("cached state changed within the interval: %d", w.Code)
		}
		time.Sleep(1500 * time.Millisecond)
		if w := get("GET"); w.Code != 204 {
			t.Errorf("flag removed: %d", w.Code)
		}
	})
}

func TestFactory(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct{ body, want string }{
		{"", "flag_file is required"},
		{"flag_file = /x\ncheck_interval = 0", "check_interval"},
		{"flag_file = /x\nretry = 5", "unknown option"},
	} {
		path := filepath.Join(dir, "m.ini")
		os.WriteFile(path, []byte("[pipeline:main]\npipeline = m app\n[filter:m]\nuse = egg:vietstack#maintenance\n"+tt.body+"\n[app:app]\nuse = egg:vietstack#maintenance\n"), 0o644)
		g, err := paste.Load(path, paste.Options{})
		if err != nil {
			t.Fatal(err)
		}
		reg := pipeline.NewRegistry()
		maintenance.Register(reg)
		_, err = pipeline.Build(context.Background(), g, pipeline.BuildOptions{Registry: reg})
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "m.ini:") {
			t.Errorf("%q: %v", tt.body, err)
		}
	}
}

type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

func TestPassAllocs(t *testing.T) {
	f, _ := maintenance.New(maintenance.Options{FlagFile: filepath.Join(t.TempDir(), "none"), CheckInterval: time.Hour})
	h := f.Middleware(ok)
	r := httptest.NewRequest("GET", "/", nil)
	w := &nopWriter{h: http.Header{}}
	h.ServeHTTP(w, r)
	if n := testing.AllocsPerRun(1000, func() { h.ServeHTTP(w, r) }); n != 0 {
		t.Errorf("%v allocs per passed request", n)
	}
}

func BenchmarkMaintenance(b *testing.B) {
	f, _ := maintenance.New(maintenance.Options{FlagFile: filepath.Join(b.TempDir(), "none"), CheckInterval: time.Second})
	h := f.Middleware(ok)
	r := httptest.NewRequest("GET", "/", nil)
	w := &nopWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

var _ = pipeline.Root
