package headers_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vietstack/vietstack-api/filters/headers"
	"github.com/vietstack/vietstack-api/pipeline"
	"github.com/vietstack/vietstack-api/pipeline/paste"
)

// app echoes the request headers it got as X-Got-<Name> response headers
// and sets a few response headers of its own.
var app = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	for k, v := range r.Header {
		w.Header()["X-Got-"+k] = v
	}
	w.Header().Set("Server", "backend/1.0")
	w.Header().Set("X-Powered-By", "python")
	w.Header().Set("Cache-Control", "private")
	io.WriteString(w, "ok")
})

func TestRules(t *testing.T) {
	o := headers.Options{
		RequestSet:     "X-Tenant: t1\nx-forwarded-proto: https",
		RequestAdd:     "X-Trace: a\nX-Trace: b",
		RequestRemove:  []string{"Cookie", "x-debug"},
		ResponseSet:    "Strict-Transport-Security: max-age=63072000\nCache-Control: no-store",
		ResponseAdd:    "Vary: Origin",
		ResponseRemove: []string{"Server", "X-Powered-By"},
	}
	mw, err := headers.New(o)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", "s=1")
	r.Header.Set("X-Debug", "1")
	r.Header.Set("X-Tenant", "client-value")
	r.Header.Set("X-Trace", "client")
	w := httptest.NewRecorder()
	pipeline.Root(mw(app)).ServeHTTP(w, r)
	got := w.Header()
	want := map[string][]string{
		"X-Got-X-Tenant":            {"t1"},
		"X-Got-X-Forwarded-Proto":   {"https"},
		"X-Got-X-Trace":             {"client", "a", "b"},
		"X-Got-Cookie":              nil,
		"X-Got-X-Debug":             nil,
		"Strict-Transport-Security": {"max-age=63072000"},
		"Cache-Control":             {"no-store"},
		"Vary":                      {"Origin"},
		"Server":                    nil,
		"X-Powered-By":              nil,
	}
	for k, v := range want {
		if diff := cmp.Diff(v, got[k]); diff != "" {
			t.Errorf("%s (-want +got): %s", k, diff)
		}
	}
	if w.Body.String() != "ok" {
		t.Errorf("body %q", w.Body)
	}
}

func TestFlushBeforeWriteAppliesRules(t *testing.T) {
	mw, _ := headers.New(headers.Options{ResponseSet: "X-Frame-Options: DENY"})
	release := make(chan struct{})
	srv := httptest.NewServer(pipeline.Root(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.NewResponseController(w).Flush()
		<-release
		io.WriteString(w, "late\n")
	}))))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("headers sent by a flush lack the rule: %v", resp.Header)
	}
	close(release)
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	if line != "late\n" {
		t.Errorf("body %q", line)
	}
	_ = time.Second
}

func TestNoRulesIsNext(t *testing.T) {
	mw, err := headers.New(headers.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := mw(app)
	r := httptest.NewRequest("GET", "/", nil)
	if n := testing.AllocsPerRun(100, func() { h.ServeHTTP(httptest.NewRecorder(), r) }); n != testing.AllocsPerRun(100, func() { app.ServeHTTP(httptest.NewRecorder(), r) }) {
		t.Errorf("an empty headers filter costs allocations")
	}
	reqOnly, _ := headers.New(headers.Options{RequestRemove: []string{"X-Debug"}})
	h = reqOnly(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	if n := testing.AllocsPerRun(100, func() { h.ServeHTTP(nil, r) }); n != 0 {
		t.Errorf("request-only rules cost %v allocs", n)
	}
}

func TestOptionErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct{ body, key, want string }{
		{"request_set = X-A", "request_set", `want "Name: value"`},
		{"request_set = Bad Name: x", "request_set", "invalid header name"},
		{"response_add = Content-Length: 5", "response_add", "managed by the HTTP framing"},
		{"request_remove = Host", "request_remove", "managed by the HTTP framing"},
		{"response_set = Transfer-Encoding: chunked", "response_set", "framing"},
		{"request_sets = X: y", "request_sets", "unknown option"},
	} {
		path := filepath.Join(dir, "h.ini")
		os.WriteFile(path, []byte("[pipeline:main]\npipeline = h app\n[filter:h]\nuse = egg:vietstack#headers\n"+tt.body+"\n[app:app]\nuse = egg:vietstack#headers\n"), 0o644)
		g, err := paste.Load(path, paste.Options{})
		if err != nil {
			t.Fatal(err)
		}
		reg := pipeline.NewRegistry()
		headers.Register(reg)
		_, err = pipeline.Build(context.Background(), g, pipeline.BuildOptions{Registry: reg})
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "h.ini:5") || !strings.Contains(err.Error(), tt.key) {
			t.Errorf("%q: %v", tt.body, err)
		}
	}
}

func BenchmarkHeaders(b *testing.B) {
	mw, _ := headers.New(headers.Options{RequestSet: "X-A: 1", ResponseSet: "X-B: 2", ResponseRemove: []string{"Server"}})
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	r := httptest.NewRequest("GET", "/", nil)
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
}
