package sizelimit

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vietstack/vietstack-api/pipeline"
)

// The 413 pages oslo.middleware 5.0.0 + WebOb 1.8 answer for a limit of
// 1024 (recorded by shared/tools/oslo-diff, expected/sizelimit).
const (
	plainDeclared = "413 Request Entity Too Large\n\nRequest is too large. Larger than max_request_body_size (1024).\n\n   "
	htmlDeclared  = "<html>\n <head>\n  <title>413 Request Entity Too Large</title>\n </head>\n <body>\n  <h1>413 Request Entity Too Large</h1>\n  Request is too large. Larger than max_request_body_size (1024).<br /><br />\n\n\n\n </body>\n</html>"
	jsonDeclared  = `{"message": "Request is too large. Larger than max_request_body_size (1024).<br /><br />\n\n\n", "code": "413 Request Entity Too Large", "title": "Request Entity Too Large"}`
	plainChunked  = "413 Request Entity Too Large\n\nRequest is too large. Larger than 1024.\n\n   "
	jsonChunked   = `{"message": "Request is too large. Larger than 1024.<br /><br />\n\n\n", "code": "413 Request Entity Too Large", "title": "Request Entity Too Large"}`
)

// echo reads the whole body like a WebOb application and answers 200 with
// the number of bytes read; a failed read is answered with the error when
// it is an http.Handler, else with a 400 of its own.
type echo struct {
	calls int
	read  int
}

func (a *echo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.calls++
	b, err := io.ReadAll(r.Body)
	a.read = len(b)
	if err != nil {
		if h, ok := err.(http.Handler); ok {
			h.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-App", "error")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, "app: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-App", "ok")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, `{"read":`+itoa(len(b))+`}`)
}

func itoa(n int) string { return string(appendInt(nil, n)) }
func appendInt(b []byte, n int) []byte {
	if n >= 10 {
		b = appendInt(b, n/10)
	}
	return append(b, byte('0'+n%10))
}

// chunkedRequest builds a request whose body has no declared length.
func chunkedRequest(method string, n int) *http.Request {
	r := httptest.NewRequest(method, "/", io.NopCloser(strings.NewReader(strings.Repeat("x", n))))
	r.ContentLength = -1
	r.Header.Del("Content-Length")
	return r
}

func TestLimit(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		size     int
		chunked  bool
		accept   string
		status   int
		ctype    string
		body     string
		appCalls int
		maxRead  int
	}{
		{"no body", "GET", 0, false, "", 200, "application/json", `{"read":0}`, 1, 0},
		{"under", "POST", 1023, false, "", 200, "application/json", `{"read":1023}`, 1, 1023},
		{"at the limit", "POST", 1024, false, "", 200, "application/json", `{"read":1024}`, 1, 1024},
		{"one over", "POST", 1025, false, "", 413, "text/plain; charset=UTF-8", plainDeclared, 0, 0},
		{"one over, json", "POST", 1025, false, "application/json", 413, "application/json", jsonDeclared, 0, 0},
		{"one over, text/plain", "POST", 1025, false, "text/plain", 413, "text/plain; charset=UTF-8", plainDeclared, 0, 0},
		{"one over, */*", "POST", 1025, false, "*/*", 413, "text/html; charset=UTF-8", htmlDeclared, 0, 0},
		{"one over, html q=0", "POST", 1025, false, "text/html;q=0, application/json;q=0.5", 413, "application/json", jsonDeclared, 0, 0},
		{"one over, json preferred", "POST", 1025, false, "text/html;q=0.4, application/*;q=0.9", 413, "application/json", jsonDeclared, 0, 0},
		{"one over, unparsable accept", "POST", 1025, false, "text", 413, "text/html; charset=UTF-8", htmlDeclared, 0, 0},
		{"far over", "POST", 8192, false, "", 413, "text/plain; charset=UTF-8", plainDeclared, 0, 0},
		{"PUT", "PUT", 1025, false, "", 413, "text/plain; charset=UTF-8", plainDeclared, 0, 0},
		{"GET with a body", "GET", 2000, false, "", 413, "text/plain; charset=UTF-8", plainDeclared, 0, 0},
		{"chunked small", "POST", 10, true, "", 200, "application/json", `{"read":10}`, 1, 10},
		{"chunked at the limit", "POST", 1024, true, "", 200, "application/json", `{"read":1024}`, 1, 1024},
		{"chunked empty", "POST", 0, true, "", 200, "application/json", `{"read":0}`, 1, 0},
		{"chunked one over, json", "POST", 1025, true, "application/json", 413, "application/json", jsonChunked, 1, 1024},
		{"chunked far over", "POST", 4096, true, "", 413, "text/plain; charset=UTF-8", plainChunked, 1, 1024},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r *http.Request
			if tt.chunked {
				r = chunkedRequest(tt.method, tt.size)
			} else {
				r = httptest.NewRequest(tt.method, "/", strings.NewReader(strings.Repeat("x", tt.size)))
			}
			if tt.accept != "" {
				r.Header.Set("Accept", tt.accept)
			}
			a := &echo{}
			w := httptest.NewRecorder()
			w.Header().Set("X-Outer", "kept") // as set by an outer filter
			Middleware(1024)(a).ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Errorf("status %d, want %d", w.Code, tt.status)
			}
			if got := w.Header().Get("Content-Type"); got != tt.ctype {
				t.Errorf("Content-Type %q, want %q", got, tt.ctype)
			}
			if got := w.Body.String(); got != tt.body {
				t.Errorf("body\n%q\nwant\n%q", got, tt.body)
			}
			if a.calls != tt.appCalls {
				t.Errorf("app called %d times, want %d", a.calls, tt.appCalls)
			}
			if a.read > tt.maxRead {
				t.Errorf("app read %d bytes, more than %d", a.read, tt.maxRead)
			}
			if w.Header().Get("X-Outer") != "kept" {
				t.Errorf("an outer filter's header was lost: %v", w.Header())
			}
			if tt.status == 413 {
				if w.Header().Get("X-App") != "" {
					t.Errorf("the app's headers leaked into the 413: %v", w.Header())
				}
				if w.Header().Get("Connection") != "close" {
					t.Errorf("413 without Connection: close")
				}
			}
		})
	}
}

func TestJSONPagesParse(t *testing.T) {
	for _, s := range []string{jsonDeclared, jsonChunked} {
		var v map[string]string
		if err := json.Unmarshal([]byte(s), &v); err != nil || v["code"] != "413 Request Entity Too Large" {
			t.Errorf("%s: %v %v", s, v, err)
		}
	}
}

// TestChunkedAppBehaviours covers the ways an application can react to a
// body cut at the limit.
func TestChunkedAppBehaviours(t *testing.T) {
	tests := []struct {
		name   string
		app    http.HandlerFunc
		status int
		body   string
	}{
		{"app answers its own error", func(w http.ResponseWriter, r *http.Request) {
			_, err := io.ReadAll(r.Body)
			if !IsTooLarge(err) {
				t.Errorf("read error %v is not a TooLargeError", err)
			}
			var mbe *http.MaxBytesError
			if !errors.As(err, &mbe) || mbe.Limit != 1024 {
				t.Errorf("read error %v does not unwrap to MaxBytesError{1024}", err)
			}
			w.Header().Set("X-App", "1")
			http.Error(w, "bad body", http.StatusBadRequest)
		}, 413, plainChunked},
		{"app gives up silently", func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
		}, 413, plainChunked},
		{"app ignores the error and answers 200", func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.Write([]byte("fine"))
		}, 413, plainChunked},
		{"app flushes first", func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			http.NewResponseController(w).Flush()
			w.Write([]byte("fine"))
		}, 413, plainChunked},
		{"app reads in small pieces", func(w http.ResponseWriter, r *http.Request) {
			buf := make([]byte, 7)
			total := 0
			for {
				n, err := r.Body.Read(buf)
				total += n
				if err != nil {
					if total > 1024 {
						t.Errorf("app got %d bytes", total)
					}
					if err != io.EOF {
						http.Error(w, "x", 500)
					}
					return
				}
			}
		}, 413, plainChunked},
		{"app answered before reading: its answer stands", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusAccepted)
			n, err := io.Copy(io.Discard, r.Body)
			if n != 1024 || !IsTooLarge(err) {
				t.Errorf("read %d, %v", n, err)
			}
		}, 202, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			Middleware(1024)(tt.app).ServeHTTP(w, chunkedRequest("POST", 3000))
			if w.Code != tt.status || w.Body.String() != tt.body {
				t.Errorf("got %d %q, want %d %q", w.Code, w.Body.String(), tt.status, tt.body)
			}
			if w.Header().Get("X-App") != "" {
				t.Errorf("app header kept: %v", w.Header())
			}
		})
	}
}

// rawExchange sends a raw request to addr and returns everything the
// server answered until it closed the connection or went quiet.
func rawExchange(t *testing.T, addr, head string, body string, waitBeforeBody time.Duration) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	rd := bufio.NewReader(c)
	if waitBeforeBody > 0 {
		c.SetReadDeadline(time.Now().Add(waitBeforeBody))
		buf := make([]byte, 4096)
		n, _ := rd.Read(buf)
		got.Write(buf[:n])
	}
	if body != "" {
		io.WriteString(c, body)
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	rest, _ := io.ReadAll(rd)
	got.Write(rest)
	return got.String()
}

func TestRealServer(t *testing.T) {
	a := &echo{}
	srv := httptest.NewServer(Middleware(1024)(a))
	defer srv.Close()
	addr := srv.Listener.Addr().String()

	t.Run("Expect 100-continue over the limit: 413, no 100", func(t *testing.T) {
		a.calls = 0
		got := rawExchange(t, addr, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\nExpect: 100-continue\r\n\r\n", "", 500*time.Millisecond)
		if strings.Contains(got, "100 Continue") {
			t.Errorf("server sent 100 Continue:\n%s", got)
		}
		if !strings.HasPrefix(got, "HTTP/1.1 413 ") || !strings.Contains(got, "Connection: close") {
			t.Errorf("answer:\n%s", got)
		}
		if a.calls != 0 {
			t.Errorf("app ran %d times", a.calls)
		}
	})
	t.Run("Expect 100-continue within the limit: 100 then 200", func(t *testing.T) {
		got := rawExchange(t, addr, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n", "hello", 0)
		if !strings.HasPrefix(got, "HTTP/1.1 100 Continue") || !strings.Contains(got, "HTTP/1.1 200 OK") || !strings.HasSuffix(got, `{"read":5}`) {
			t.Errorf("answer:\n%s", got)
		}
	})
	t.Run("chunked over the limit: 413 and the connection closes", func(t *testing.T) {
		chunk := strings.Repeat("y", 600)
		body := "258\r\n" + chunk + "\r\n258\r\n" + chunk + "\r\n258\r\n" + chunk + "\r\n0\r\n\r\n"
		got := rawExchange(t, addr, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", body, 0)
		if !strings.HasPrefix(got, "HTTP/1.1 413 ") || !strings.HasSuffix(got, plainChunked) {
			t.Errorf("answer:\n%s", got)
		}
		if a.read > 1024 {
			t.Errorf("app read %d bytes", a.read)
		}
	})
	t.Run("chunked at the limit passes", func(t *testing.T) {
		body := "400\r\n" + strings.Repeat("z", 1024) + "\r\n0\r\n\r\n"
		got := rawExchange(t, addr, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n", body, 0)
		if !strings.HasPrefix(got, "HTTP/1.1 200 ") || !strings.HasSuffix(got, `{"read":1024}`) {
			t.Errorf("answer:\n%s", got)
		}
	})
	t.Run("chunked in 1-byte chunks over the limit", func(t *testing.T) {
		var b strings.Builder
		for range 1100 {
			b.WriteString("1\r\nq\r\n")
		}
		b.WriteString("0\r\n\r\n")
		got := rawExchange(t, addr, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", b.String(), 0)
		if !strings.HasPrefix(got, "HTTP/1.1 413 ") || a.read > 1024 {
			t.Errorf("read %d, answer:\n%s", a.read, got)
		}
	})
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFactory(t *testing.T) {
	dir := t.TempDir()
	mw := writeFile(t, dir, "mw.conf", "[DEFAULT]\nosapi_max_request_body_size = 99\n\n[oslo_middleware]\n# comment\nmax_request_body_size = 300\n")
	legacy := writeFile(t, dir, "legacy.conf", "[DEFAULT]\nosapi_max_request_body_size = 400\n")
	keystone := writeFile(t, dir, "keystone.conf", "[DEFAULT]\nmax_request_body_size: 500\n")
	bad := writeFile(t, dir, "bad.conf", "[oslo_middleware]\nmax_request_body_size = lots\n")
	broken := writeFile(t, dir, "broken.conf", "max_request_body_size = 1\n")
	tests := []struct {
		name   string
		local  map[string]string
		global map[string]string
		limit  int64
		err    string
	}{
		{"default", nil, nil, DefaultLimit, ""},
		{"local", map[string]string{"max_request_body_size": "1024"}, nil, 1024, ""},
		{"with a unit", map[string]string{"max_request_body_size": "2KiB"}, nil, 2048, ""},
		{"global conf", nil, map[string]string{"max_request_body_size": "2048", "here": "/x"}, 2048, ""},
		{"local beats global", map[string]string{"max_request_body_size": "512"}, map[string]string{"max_request_body_size": "2048"}, 512, ""},
		{"oslo [oslo_middleware]", map[string]string{"oslo_config_project": "p", "oslo_config_file": mw}, nil, 300, ""},
		{"oslo file relative to the paste file", map[string]string{"oslo_config_project": "p", "oslo_config_file": "mw.conf"}, map[string]string{"here": dir}, 300, ""},
		{"oslo legacy osapi key", map[string]string{"oslo_config_project": "p", "oslo_config_file": legacy}, nil, 400, ""},
		{"oslo keystone DEFAULT key", map[string]string{"oslo_config_project": "p", "oslo_config_file": keystone}, nil, 500, ""},
		{"paste key beats oslo file", map[string]string{"oslo_config_project": "p", "oslo_config_file": mw, "max_request_body_size": "700"}, nil, 700, ""},
		{"project without files", map[string]string{"oslo_config_project": "no-such-project-here"}, nil, DefaultLimit, ""},
		{"bad value", map[string]string{"max_request_body_size": "big"}, nil, 0, `max_request_body_size: invalid size "big"`},
		{"negative", map[string]string{"max_request_body_size": "-1"}, nil, 0, "max_request_body_size"},
		{"unknown key", map[string]string{"max_body_size": "1"}, nil, 0, `did you mean "max_request_body_size"`},
		{"bad oslo value", map[string]string{"oslo_config_project": "p", "oslo_config_file": bad}, nil, 0, "bad.conf [oslo_middleware] max_request_body_size"},
		{"broken oslo file", map[string]string{"oslo_config_project": "p", "oslo_config_file": broken}, nil, 0, "broken.conf:1: option outside any section"},
		{"missing oslo file", map[string]string{"oslo_config_project": "p", "oslo_config_file": filepath.Join(dir, "nope.conf")}, nil, 0, "nope.conf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &pipeline.Config{Name: "filter:sizelimit", Local: tt.local, Global: tt.global}
			m, err := New(context.Background(), c)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error = %v, want one containing %q", err, tt.err)
				}
				if !strings.Contains(err.Error(), "[filter:sizelimit]") {
					t.Errorf("error %q does not name the section", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			h := m(&echo{})
			for _, n := range []int64{tt.limit, tt.limit + 1} {
				r := httptest.NewRequest("POST", "/", strings.NewReader(strings.Repeat("x", int(n))))
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				want := 200
				if n > tt.limit {
					want = 413
				}
				if w.Code != want {
					t.Errorf("body of %d: status %d, want %d", n, w.Code, want)
				}
			}
		})
	}
}

func TestRegisterAliases(t *testing.T) {
	reg := pipeline.NewRegistry()
	Register(reg)
	for _, s := range []string{
		"egg:vietstack#sizelimit",
		"egg:oslo.middleware#sizelimit",
		"oslo_middleware:RequestBodySizeLimiter.factory",
		"oslo_middleware.sizelimit:RequestBodySizeLimiter.factory",
		"cinder.api.middleware.sizelimit:RequestBodySizeLimiter.factory",
		"keystone.middleware:RequestBodySizeLimiter.factory",
		"nova.api.sizelimit:RequestBodySizeLimiter.factory",
	} {
		if f, ok := reg.Lookup(s, pipeline.KindFilter); !ok || f.Name != "sizelimit" {
			t.Errorf("Lookup(%q) = %v, %v", s, f, ok)
		}
	}
}

// recorder is a response writer that allocates nothing per call.
type recorder struct{ h http.Header }

func (w *recorder) Header() http.Header         { return w.h }
func (w *recorder) WriteHeader(code int)        {}
func (w *recorder) Write(p []byte) (int, error) { return len(p), nil }

var okApp = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })

func TestPassThroughAllocs(t *testing.T) {
	h := Middleware(DefaultLimit)(okApp)
	w := &recorder{h: http.Header{}}
	get := httptest.NewRequest("GET", "/", nil)
	post := httptest.NewRequest("POST", "/", strings.NewReader(strings.Repeat("x", 1000)))
	for name, r := range map[string]*http.Request{"GET": get, "POST within the limit": post} {
		if n := testing.AllocsPerRun(1000, func() { h.ServeHTTP(w, r) }); n != 0 {
			t.Errorf("%s: %v allocations per request, want 0", name, n)
		}
	}
}

func BenchmarkSizeLimitPassThrough(b *testing.B) {
	h := Middleware(DefaultLimit)(okApp)
	w := &recorder{h: http.Header{}}
	r := httptest.NewRequest("POST", "/", strings.NewReader(strings.Repeat("x", 1000)))
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

func BenchmarkSizeLimitChunked(b *testing.B) {
	h := Middleware(DefaultLimit)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	}))
	w := &recorder{h: http.Header{}}
	payload := strings.Repeat("x", 4096)
	b.ReportAllocs()
	for b.Loop() {
		r := &http.Request{Method: "POST", ContentLength: -1, Body: io.NopCloser(strings.NewReader(payload)), Header: http.Header{}}
		h.ServeHTTP(w, r)
	}
}
