package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vietstack/vietstack-api/pipeline"
)

const secret = "kaboom: secret-token-0123456789"

// boom panics before writing (when = call) or after the status line
// (when = body), as the oslo-diff boom app.
func boom(when string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Internal-Backend", "10.0.0.3")
		w.Header().Set("Content-Type", "application/octet-stream")
		if when == "body" {
			w.WriteHeader(http.StatusOK)
		}
		panic(errors.New(secret))
	})
}

var ok = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"app": "echo"}`))
})

// withRequestID stands for a request_id filter placed outside: it sets
// the id in the request state and the response header before next runs.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pipeline.RequestFrom(r).RequestID = "req-00000000-0000-4000-8000-000000000001"
		w.Header().Set("X-Openstack-Request-Id", "req-00000000-0000-4000-8000-000000000001")
		next.ServeHTTP(w, r)
	})
}

func newLogger() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewJSONHandler(&buf, nil)), &buf
}

// TestCatchErrorsOsloDiff mirrors the oslo-diff catch_errors records
// (oslo.middleware 5.0.0, WebOb 1.8.6).
func TestCatchErrorsOsloDiff(t *testing.T) {
	tests := []struct {
		name   string
		method string
		app    http.Handler
		header map[string]string
		status int
		ctype  string
		body   string
	}{
		{"ok", "GET", ok, nil, 200, "application/json", `{"app": "echo"}`},
		{"boom", "GET", boom("call"), nil, 500, "text/plain; charset=UTF-8",
			"500 Internal Server Error\n\nThe server has either erred or is incapable of performing the requested operation.\n\n   "},
		{"boom-text", "GET", boom("call"), map[string]string{"Accept": "text/plain"}, 500, "text/plain; charset=UTF-8",
			"500 Internal Server Error\n\nThe server has either erred or is incapable of performing the requested operation.\n\n   "},
		{"boom-post", "POST", boom("call"), map[string]string{"X-Auth-Token": "secret-token-abc"}, 500, "text/plain; charset=UTF-8",
			"500 Internal Server Error\n\nThe server has either erred or is incapable of performing the requested operation.\n\n   "},
		{"boom-json", "GET", boom("call"), map[string]string{"Accept": "application/json"}, 500, "application/json",
			`{"message": "The server has either erred or is incapable of performing the requested operation.<br /><br />\n\n\n", "code": "500 Internal Server Error", "title": "Internal Server Error"}`},
		{"boom-html", "GET", boom("call"), map[string]string{"Accept": "*/*"}, 500, "text/html; charset=UTF-8",
			"<html>\n <head>\n  <title>500 Internal Server Error</title>\n </head>\n <body>\n  <h1>500 Internal Server Error</h1>\n  The server has either erred or is incapable of performing the requested operation.<br /><br />\n\n\n\n </body>\n</html>"},
		{"boom-head", "HEAD", boom("call"), nil, 500, "text/html; charset=UTF-8", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logger, logs := newLogger()
			h := pipeline.Root(CatchErrors(logger)(tt.app))
			r := httptest.NewRequest(tt.method, "/boom", strings.NewReader(`{"a": 1}`))
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status || w.Header().Get("Content-Type") != tt.ctype || w.Body.String() != tt.body {
				t.Errorf("got %d %q %q\nwant %d %q %q", w.Code, w.Header().Get("Content-Type"), w.Body, tt.status, tt.ctype, tt.body)
			}
			if strings.Contains(w.Body.String(), "secret") {
				t.Error("panic text reached the client")
			}
			if w.Code == 500 {
				if len(w.Header()) != 2 { // Content-Type, Content-Length
					t.Errorf("headers %v, want only the 500's own", w.Header())
				}
				if n := strings.Count(logs.String(), "\n"); n != 1 {
					t.Errorf("logged %d records, want 1:\n%s", n, logs)
				}
			} else if logs.Len() != 0 {
				t.Errorf("logged without a panic: %s", logs)
			}
		})
	}
}

func TestFaultWrap(t *testing.T) {
	logger, logs := newLogger()
	h := pipeline.Root(withRequestID(FaultWrap(logger, "computeFault")(boom("call"))))
	r := httptest.NewRequest("GET", "/v2.1/servers", nil)
	r.Header.Set("Authorization", "Basic c2VjcmV0")
	r.Header.Set("Cookie", "session=secret-cookie")
	r.Header.Set("X-Auth-Token", "gAAAA-secret-auth")
	r.Header.Set("X-Subject-Token", "gAAAA-secret-subject")
	r.Header.Set("X-Service-Token", "gAAAA-secret-service")
	r.Header.Set("User-Agent", "curl/8")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)

	if w.Code != 500 || w.Header().Get("Content-Type") != "application/json; charset=UTF-8" {
		t.Fatalf("got %d %q", w.Code, w.Header().Get("Content-Type"))
	}
	var body map[string]map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q: %v", w.Body, err)
	}
	f := body["computeFault"]
	if f["code"] != float64(500) || f["title"] != "Internal Server Error" || f["message"] != FaultMessage || f["request_id"] != "req-00000000-0000-4000-8000-000000000001" {
		t.Errorf("fault = %v", f)
	}
	for _, leak := range []string{"secret", "goroutine", ".go:", "errors.errorString", "10.0.0.3"} {
		if strings.Contains(w.Body.String(), leak) {
			t.Errorf("body leaks %q: %s", leak, w.Body)
		}
	}
	if got := w.Header().Get("X-Openstack-Request-Id"); got == "" {
		t.Error("the outer filter's request id header was dropped")
	}
	if got := w.Header().Get("X-Internal-Backend"); got != "" {
		t.Errorf("the failed app's header survived: %q", got)
	}

	// One log record, with the stack and the panic, credentials masked.
	var rec map[string]any
	if err := json.Unmarshal(logs.Bytes(), &rec); err != nil {
		t.Fatalf("log %q: %v", logs, err)
	}
	if rec["level"] != "ERROR" || !strings.Contains(rec["stack"].(string), "faults_test.go") || rec["panic"] != secret {
		t.Errorf("log record lacks level/stack/panic: %v", rec)
	}
	if rec["request_id"] != "req-00000000-0000-4000-8000-000000000001" || rec["path"] != "/v2.1/servers" {
		t.Errorf("log record lacks request: %v", rec)
	}
	hdrs := rec["headers"].(map[string]any)
	for _, k := range []string{"Authorization", "Cookie", "X-Auth-Token", "X-Subject-Token", "X-Service-Token"} {
		if hdrs[k] != "*****" {
			t.Errorf("log header %s = %v, want masked", k, hdrs[k])
		}
	}
	if hdrs["User-Agent"] != "curl/8" {
		t.Errorf("log User-Agent = %v", hdrs["User-Agent"])
	}
	for _, s := range []string{"c2VjcmV0", "secret-cookie", "secret-auth", "secret-subject", "secret-service"} {
		if strings.Contains(logs.String(), s) {
			t.Errorf("log leaks %q", s)
		}
	}
}

// TestPanicAfterStatus: behind a pipeline root the status is held back
// until the body starts, so a panic between WriteHeader and the first byte
// still becomes a clean 500. Without a root (or once a body byte is out) the
// answer cannot change: the connection is aborted with http.ErrAbortHandler.
func TestPanicAfterStatus(t *testing.T) {
	for name, mw := range map[string]pipeline.Middleware{
		"catch_errors": CatchErrors(nil),
		"faultwrap":    FaultWrap(nil, "computeFault"),
	} {
		t.Run(name, func(t *testing.T) {
			logger, logs := newLogger()
			if name == "catch_errors" {
				mw = CatchErrors(logger)
			} else {
				mw = FaultWrap(logger, "computeFault")
			}
			for _, root := range []bool{true, false} {
				logs.Reset()
				h := mw(boom("body"))
				if root {
					h = pipeline.Root(h)
				}
				rec := httptest.NewRecorder()
				v := catchPanic(func() { h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil)) })
				if root {
					if v != nil || rec.Code != 500 {
						t.Errorf("root: panic %v, code %d; want a 500 answer", v, rec.Code)
					}
					if !strings.Contains(logs.String(), "answered 500") || !strings.Contains(logs.String(), "stack") {
						t.Errorf("root: not logged: %s", logs)
					}
					continue
				}
				if v != http.ErrAbortHandler {
					t.Errorf("no root: panic value %v, want http.ErrAbortHandler", v)
				}
				if !strings.Contains(logs.String(), "connection aborted") || !strings.Contains(logs.String(), "stack") {
					t.Errorf("no root: not logged: %s", logs)
				}
			}
		})
	}
}

// TestPanicAfterBody: once a body byte is out the answer cannot change,
// even behind a root: the connection is aborted.
func TestPanicAfterBody(t *testing.T) {
	logger, logs := newLogger()
	h := pipeline.Root(CatchErrors(logger)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("partial"))
		panic("late")
	})))
	v := catchPanic(func() { h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil)) })
	if v != http.ErrAbortHandler {
		t.Errorf("panic value %v, want http.ErrAbortHandler", v)
	}
	if !strings.Contains(logs.String(), "connection aborted") {
		t.Errorf("not logged: %s", logs)
	}
}

// TestServerAbort: over a real connection, a panic after the body started
// gives the client an error (never a complete-looking 200), a panic after
// the status line but before the body gives a 500, and the next request is
// served.
func TestServerAbort(t *testing.T) {
	logger, _ := newLogger()
	mux := http.NewServeMux()
	mux.Handle("/body", boom("body"))
	mux.HandleFunc("/late", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("partial"))
		panic("late")
	})
	mux.Handle("/call", boom("call"))
	srv := httptest.NewServer(pipeline.Root(CatchErrors(logger)(mux)))
	srv.Config.ErrorLog = nil
	defer srv.Close()
	if resp, err := http.Get(srv.URL + "/late"); err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Errorf("panic after the body started: got a complete answer %d", resp.StatusCode)
		}
	}
	if resp, err := http.Get(srv.URL + "/body"); err != nil || resp.StatusCode != 500 {
		t.Errorf("panic after the status line: %v %v, want a 500", resp, err)
	} else {
		resp.Body.Close()
	}
	resp, err := http.Get(srv.URL + "/call")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 500 {
		t.Errorf("panic before status: %d", resp.StatusCode)
	}
}

func TestFactories(t *testing.T) {
	reg := pipeline.NewRegistry()
	Register(reg)
	for _, s := range []string{
		"oslo_middleware:CatchErrors.factory",
		"oslo_middleware.catch_errors:CatchErrors.factory",
		"neutron.openstack.common.middleware.catch_errors:CatchErrorsMiddleware.factory",
		"egg:vietstack#catch_errors",
	} {
		if f, ok := reg.Lookup(s, pipeline.KindFilter); !ok || f.Name != "catch_errors" {
			t.Errorf("Lookup(%q) = %v, %v", s, f, ok)
		}
	}
	if f, ok := reg.Lookup("egg:vietstack#faultwrap", pipeline.KindFilter); !ok || f.Name != "faultwrap" {
		t.Errorf("faultwrap: %v %v", f, ok)
	}
	logger, _ := newLogger()
	mw, err := CatchErrorsFactory(context.Background(), &pipeline.Config{Name: "filter:catch_errors", Logger: logger, Local: map[string]string{"oslo_config_project": "neutron"}})
	if err != nil || mw == nil {
		t.Fatalf("catch_errors factory: %v", err)
	}
	if _, err := CatchErrorsFactory(context.Background(), &pipeline.Config{Name: "filter:catch_errors", Local: map[string]string{"debug": "1"}}); err == nil {
		t.Error("catch_errors accepted an unknown option")
	}
	mw, err = FaultWrapFactory(context.Background(), &pipeline.Config{Name: "filter:faultwrap", Logger: logger, Local: map[string]string{"fault_name": "volumeFault"}})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	pipeline.Root(mw(boom("call"))).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if !strings.HasPrefix(w.Body.String(), `{"volumeFault": {"code": 500`) {
		t.Errorf("fault_name not used: %s", w.Body)
	}
	if _, err := FaultWrapFactory(context.Background(), &pipeline.Config{Name: "filter:faultwrap", Local: map[string]string{"fault_name": ""}}); err == nil {
		t.Error("empty fault_name accepted")
	}
}

func TestPassThroughAllocs(t *testing.T) {
	noop := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	r := httptest.NewRequest("GET", "/servers", nil)
	w := httptest.NewRecorder()
	base := testing.AllocsPerRun(200, func() { pipeline.Root(noop).ServeHTTP(w, r) })
	for name, mw := range map[string]pipeline.Middleware{"catch_errors": CatchErrors(nil), "faultwrap": FaultWrap(nil, "computeFault")} {
		h := pipeline.Root(mw(noop))
		got := testing.AllocsPerRun(200, func() { h.ServeHTTP(w, r) })
		if got != base {
			t.Errorf("%s pass-through allocs = %v, want %v (root only)", name, got, base)
		}
	}
}

func BenchmarkCatchErrorsPassThrough(b *testing.B) {
	benchPass(b, CatchErrors(nil))
}

func BenchmarkFaultWrapPassThrough(b *testing.B) {
	benchPass(b, FaultWrap(nil, "computeFault"))
}

func benchPass(b *testing.B, mw pipeline.Middleware) {
	h := pipeline.Root(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	r := httptest.NewRequest("GET", "/servers", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

func catchPanic(f func()) (v any) {
	defer func() { v = recover() }()
	f()
	return nil
}

// TestManyHeadersFallback: with more outer headers than the filter
// remembers, the fixed list of stale headers is removed and the outer
// headers stay.
func TestManyHeadersFallback(t *testing.T) {
	outer := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for i := 0; i < 10; i++ {
				w.Header().Set("X-Outer-"+string(rune('a'+i)), "v")
			}
			next.ServeHTTP(w, r)
		})
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Set-Cookie", "a=b")
		panic("x")
	})
	w := httptest.NewRecorder()
	pipeline.Root(outer(FaultWrap(slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)), "computeFault")(app))).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Header().Get("Set-Cookie") != "" || w.Header().Get("X-Outer-j") != "v" {
		t.Errorf("headers = %v", w.Header())
	}
}
