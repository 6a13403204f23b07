package timeout_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vietstack/vietstack-api/apps/proxy"
	"github.com/vietstack/vietstack-api/filters/timeout"
	"github.com/vietstack/vietstack-api/pipeline"
	"github.com/vietstack/vietstack-api/pipeline/paste"
)

func TestDeadline(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		status  int
		body    string
	}{
		{"in time", func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(50 * time.Millisecond)
			io.WriteString(w, "done")
		}, 200, "done"},
		{"honours the context", func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
			if !errors.Is(context.Cause(r.Context()), timeout.ErrTimeout) {
				t.Errorf("cause %v", context.Cause(r.Context()))
			}
		}, 503, ""},
		{"ignores the context, writes nothing", func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(2 * time.Second)
		}, 503, ""},
		{"started before the deadline", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(202)
			<-r.Context().Done()
		}, 202, ""},
		{"wrote an error itself after the deadline", func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
			w.WriteHeader(504)
		}, 504, ""},
	}
	for _, tt := range tests {
		for _, root := range []bool{true, false} {
			t.Run(tt.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					h := timeout.New(time.Second)(tt.handler)
					if root {
						h = pipeline.Root(h)
					}
					w := httptest.NewRecorder()
					h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
					if w.Code != tt.status {
						t.Fatalf("root=%v: status %d, want %d", root, w.Code, tt.status)
					}
					if tt.body != "" && w.Body.String() != tt.body {
						t.Errorf("body %q", w.Body)
					}
					if w.Code == 503 {
						var f map[string]map[string]any
						if err := json.Unmarshal(w.Body.Bytes(), &f); err != nil || f["error"]["code"] != float64(503) {
							t.Errorf("fault %q", w.Body)
						}
					}
				})
			})
		}
	}
}

func TestClientGoneIsNotATimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		h := timeout.New(time.Minute)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			cancel()
			<-r.Context().Done()
		}))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil).WithContext(ctx))
		if w.Body.Len() != 0 {
			t.Errorf("wrote %q for a departed client", w.Body)
		}
	})
}

// TestWithProxy: the deadline cancels the backend round trip and the
// timeout filter, not the proxy, answers.
func TestWithProxy(t *testing.T) {
	release := make(chan struct{})
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer be.Close()
	defer close(release)
	dir := t.TempDir()
	path := filepath.Join(dir, "t.ini")
	os.WriteFile(path, []byte("[pipeline:main]\npipeline = timeout proxy\n[filter:timeout]\nuse = egg:vietstack#timeout\ntimeout = 300ms\n[app:proxy]\nuse = egg:vietstack#proxy\nurl = "+be.URL+"\n"), 0o644)
	g, err := paste.Load(path, paste.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg := pipeline.NewRegistry()
	timeout.Register(reg)
	proxy.Register(reg)
	gen, err := pipeline.Build(context.Background(), g, pipeline.BuildOptions{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer gen.Close()
	fe := httptest.NewServer(gen.Handler)
	defer fe.Close()
	start := time.Now()
	resp, err := http.Get(fe.URL + "/slow")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || !strings.Contains(string(body), `"code": 503`) {
		t.Errorf("status %d body %s", resp.StatusCode, body)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestOptionErrors(t *testing.T) {
	dir := t.TempDir()
	for _, body := range []string{"", "timeout = 0", "timeout = soon"} {
		path := filepath.Join(dir, "t.ini")
		os.WriteFile(path, []byte("[pipeline:main]\npipeline = t app\n[filter:t]\nuse = egg:vietstack#timeout\n"+body+"\n[app:app]\nuse = egg:vietstack#timeout\n"), 0o644)
		g, err := paste.Load(path, paste.Options{})
		if err != nil {
			t.Fatal(err)
		}
		reg := pipeline.NewRegistry()
		timeout.Register(reg)
		_, err = pipeline.Build(context.Background(), g, pipeline.BuildOptions{Registry: reg})
		if err == nil || !strings.Contains(err.Error(), "t.ini:") || !strings.Contains(err.Error(), "timeout") {
			t.Errorf("%q: %v", body, err)
		}
	}
}

func BenchmarkTimeout(b *testing.B) {
	h := pipeline.Root(timeout.New(time.Second)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	r := httptest.NewRequest("GET", "/", nil)
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
}
