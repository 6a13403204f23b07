package debuglog

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vietstack/vietstack-api/pipeline"
)

var app = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Subject-Token", "gAAAA-issued-token")
	w.Header().Set("Set-Cookie", "session=issued-cookie")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	w.Write([]byte(`{"token": {}}`))
})

func records(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func TestLogsRequestAndResponse(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := pipeline.Root(New(logger, slog.LevelDebug)(app))
	r := httptest.NewRequest("POST", "/v3/auth/tokens?limit=1&temp_url_sig=abcdef&X-Auth-Token=qtok", strings.NewReader(`{"password": "hunter2"}`))
	r.Header.Set("X-Auth-Token", "gAAAA-client-token")
	r.Header.Set("Authorization", "Bearer client-bearer")
	r.Header.Set("Cookie", "sid=client-cookie")
	r.Header.Set("X-Service-Token", "gAAAA-service")
	r.Header.Set("Accept", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 201 || w.Body.String() != `{"token": {}}` {
		t.Fatalf("response changed: %d %q", w.Code, w.Body)
	}
	recs := records(t, &buf)
	if len(recs) != 2 || recs[0]["msg"] != "debug: request" || recs[1]["msg"] != "debug: response" {
		t.Fatalf("records = %v", recs)
	}
	req, resp := recs[0], recs[1]
	if req["method"] != "POST" || req["path"] != "/v3/auth/tokens" || req["level"] != "DEBUG" {
		t.Errorf("request record = %v", req)
	}
	if q := req["query"].(string); q != "limit=1&temp_url_sig=*****&X-Auth-Token=*****" {
		t.Errorf("query = %q", q)
	}
	if resp["status"] != float64(201) || resp["bytes"] != float64(13) {
		t.Errorf("response record = %v", resp)
	}
	rh := req["headers"].(map[string]any)
	if rh["Accept"] != "application/json" {
		t.Errorf("request headers = %v", rh)
	}
	for _, k := range []string{"X-Auth-Token", "Authorization", "Cookie", "X-Service-Token"} {
		if rh[k] != "*****" {
			t.Errorf("request header %s = %v", k, rh[k])
		}
	}
	sh := resp["headers"].(map[string]any)
	if sh["X-Subject-Token"] != "*****" || sh["Set-Cookie"] != "*****" || sh["Content-Type"] != "application/json" {
		t.Errorf("response headers = %v", sh)
	}
	for _, s := range []string{"client-token", "client-bearer", "client-cookie", "gAAAA-service", "issued-token", "issued-cookie", "hunter2", "abcdef", "qtok"} {
		if strings.Contains(buf.String(), s) {
			t.Errorf("log leaks %q", s)
		}
	}
}

func TestControlCharsEscaped(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r := httptest.NewRequest("GET", "/", nil)
	r.URL.Path = "/a\nlevel=ERROR msg=forged"
	r.Header.Set("User-Agent", "x\r\ny")
	pipeline.Root(New(logger, slog.LevelDebug)(app)).ServeHTTP(httptest.NewRecorder(), r)
	if n := strings.Count(buf.String(), "\n"); n != 2 {
		t.Errorf("%d lines, want 2: %q", n, buf.String())
	}
}

func TestDisabledLevelIsPassThrough(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	noop := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	h := pipeline.Root(New(logger, slog.LevelDebug)(noop))
	base := pipeline.Root(noop)
	r := httptest.NewRequest("GET", "/", nil)
	w := httptest.NewRecorder()
	want := testing.AllocsPerRun(100, func() { base.ServeHTTP(w, r) })
	if got := testing.AllocsPerRun(100, func() { h.ServeHTTP(w, r) }); got != want {
		t.Errorf("allocs = %v, want %v (root only)", got, want)
	}
	if buf.Len() != 0 {
		t.Errorf("logged below the logger's level: %s", buf.String())
	}
}

func TestNoRoot(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	New(logger, slog.LevelInfo)(app).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil))
	recs := records(t, &buf)
	if len(recs) != 2 || recs[1]["status"] != float64(201) || recs[1]["bytes"] != float64(13) {
		t.Errorf("records = %v", recs)
	}
}

func TestFactory(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	mw, err := Factory(context.Background(), &pipeline.Config{Name: "filter:debug", Logger: logger, Local: map[string]string{"level": "info"}})
	if err != nil {
		t.Fatal(err)
	}
	pipeline.Root(mw(app)).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if !strings.Contains(buf.String(), `"level":"INFO","msg":"debug: request"`) {
		t.Errorf("level option not used: %s", buf.String())
	}
	for _, local := range []map[string]string{{"level": "trace"}, {"lvl": "info"}} {
		if _, err := Factory(context.Background(), &pipeline.Config{Name: "filter:debug", Local: local}); err == nil || !strings.Contains(err.Error(), "[filter:debug]") {
			t.Errorf("%v: err = %v", local, err)
		}
	}
	reg := pipeline.NewRegistry()
	Register(reg)
	for _, a := range []string{"oslo_middleware.debug:Debug.factory", "egg:oslo.middleware#debug", "egg:vietstack#debug"} {
		if f, ok := reg.Lookup(a, pipeline.KindFilter); !ok || f.Name != "debug" {
			t.Errorf("Lookup(%q) = %v %v", a, f, ok)
		}
	}
}

func BenchmarkDebugDisabled(b *testing.B) {
	logger := slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil))
	h := pipeline.Root(New(logger, slog.LevelDebug)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	r := httptest.NewRequest("GET", "/", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

func BenchmarkDebugEnabled(b *testing.B) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := pipeline.Root(New(logger, slog.LevelDebug)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	r := httptest.NewRequest("GET", "/v2.1/servers", nil)
	r.Header.Set("X-Auth-Token", "t")
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		h.ServeHTTP(w, r)
	}
}
