package pipeline

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRootHoldsStatusUntilBody(t *testing.T) {
	var committedAtWriteHeader, committedAtWrite bool
	h := Root(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := RequestFrom(r)
		w.WriteHeader(http.StatusCreated)
		committedAtWriteHeader = st.Committed()
		if st.Status() != http.StatusCreated {
			t.Errorf("Status = %d", st.Status())
		}
		w.WriteHeader(http.StatusTeapot) // superfluous: ignored
		io.WriteString(w, "hi")
		committedAtWrite = st.Committed()
		if st.ResetResponse() {
			t.Error("ResetResponse after commit")
		}
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if committedAtWriteHeader || !committedAtWrite || rec.Code != 201 || rec.Body.String() != "hi" {
		t.Errorf("commit at WriteHeader=%v at Write=%v code=%d body=%q", committedAtWriteHeader, committedAtWrite, rec.Code, rec.Body.String())
	}
}

func TestRootCommitsStatusWithoutBody(t *testing.T) {
	h := Root(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 204 || !rec.Flushed && rec.Result().StatusCode != 204 {
		t.Errorf("code = %d", rec.Code)
	}
}

func TestRootPanics(t *testing.T) {
	var logs bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	defer slog.SetDefault(old)

	tests := []struct {
		name      string
		app       http.HandlerFunc
		wantCode  int
		wantAbort bool
	}{
		{"before anything", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Secret-Internal", "db01")
			panic("database password is hunter2")
		}, 500, false},
		{"after status, before body", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(200)
			panic(errors.New("late"))
		}, 500, false},
		{"after body", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "partial")
			panic("too late")
		}, 0, true},
		{"abort handler", func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) }, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs.Reset()
			rec := httptest.NewRecorder()
			var recovered any
			func() {
				defer func() { recovered = recover() }()
				Root(tt.app).ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
			}()
			if tt.wantAbort {
				if recovered != http.ErrAbortHandler {
					t.Fatalf("recovered %v, want http.ErrAbortHandler", recovered)
				}
				return
			}
			if recovered != nil {
				t.Fatalf("panic escaped: %v", recovered)
			}
			body := rec.Body.String()
			if rec.Code != tt.wantCode || strings.Contains(body, "hunter2") || strings.Contains(body, "goroutine") || strings.Contains(body, "late") {
				t.Errorf("code %d body %q", rec.Code, body)
			}
			if rec.Header().Get("X-Secret-Internal") != "" || rec.Header().Get("Content-Type") != "application/json" {
				t.Errorf("headers %v", rec.Header())
			}
			if !strings.Contains(logs.String(), "stack=") || strings.Count(logs.String(), "panic serving request") != 1 {
				t.Errorf("log: %s", logs.String())
			}
		})
	}
}

type flushRecorder struct {
	*httptest.ResponseRecorder
	flushes int
}

func (f *flushRecorder) Flush() { f.flushes++; f.ResponseRecorder.Flush() }

func TestRootFlushAndReadFrom(t *testing.T) {
	rec := &flushRecorder{ResponseRecorder: httptest.NewRecorder()}
	var st *Request
	h := Root(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st = RequestFrom(r)
		w.WriteHeader(202)
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush: %v", err)
		}
		if !st.Committed() {
			t.Error("not committed after Flush")
		}
		io.Copy(w, strings.NewReader("0123456789"))
	}))
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 202 || rec.flushes != 1 || st.BytesWritten() != 10 || rec.Body.String() != "0123456789" {
		t.Errorf("code %d flushes %d bytes %d body %q", rec.Code, rec.flushes, st.BytesWritten(), rec.Body.String())
	}
}

func TestRootDropsUnderscoreHeaders(t *testing.T) {
	var got http.Header
	h := Root(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Clone() }))
	req := httptest.NewRequest("GET", "/", nil)
	req.Header["X_Roles"] = []string{"admin"}
	req.Header["X_identity_status"] = []string{"Confirmed"}
	req.Header.Set("X-Roles", "member")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if len(got) != 1 || got.Get("X-Roles") != "member" {
		t.Errorf("headers reaching the app: %v", got)
	}
}

func TestRootClosesSuspectFraming(t *testing.T) {
	write := func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }
	tests := []struct {
		name       string
		method     string
		proto      string // "1.0", "1.1" or "2"
		chunked    bool
		length     bool // a Content-Length header
		app        http.HandlerFunc
		wantClosed bool
	}{
		{"GET 1.1", "GET", "1.1", false, false, write, false},
		{"POST 1.1 Content-Length", "POST", "1.1", false, true, write, false},
		{"POST 1.1 chunked", "POST", "1.1", true, false, write, true},
		{"GET 1.1 chunked", "GET", "1.1", true, false, write, true},
		{"POST 1.0 Content-Length", "POST", "1.0", false, true, write, true},
		{"POST 1.0 without length", "POST", "1.0", false, false, write, true},
		{"PUT 1.0 without length", "PUT", "1.0", false, false, write, true},
		{"PATCH 1.0 without length", "PATCH", "1.0", false, false, write, true},
		{"lowercase post 1.0", "post", "1.0", false, false, write, true},
		{"GET 1.0", "GET", "1.0", false, false, write, false},
		{"HEAD 1.0", "HEAD", "1.0", false, false, write, false},
		{"OPTIONS 1.0", "OPTIONS", "1.0", false, false, write, true},
		{"DELETE 1.0", "DELETE", "1.0", false, false, write, true},
		{"TRACE 1.0", "TRACE", "1.0", false, false, write, true},
		{"POST HTTP/2 without length", "POST", "2", false, false, write, false},
		{"filter deletes Connection", "POST", "1.1", true, false, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Del("Connection")
			w.WriteHeader(201)
			w.Header().Del("Connection")
			io.WriteString(w, "ok")
		}, true},
		{"filter asks keep-alive", "POST", "1.0", false, false, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "keep-alive")
			w.WriteHeader(204)
		}, true},
		{"nothing written", "POST", "1.1", true, false, func(w http.ResponseWriter, r *http.Request) {}, true},
		{"panic", "POST", "1.1", true, false, func(w http.ResponseWriter, r *http.Request) { panic("boom") }, true},
		{"status only", "GET", "1.1", false, false, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }, false},
	}
	old := slog.Default()
	slog.SetDefault(discardLogger())
	defer slog.SetDefault(old)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/", strings.NewReader("hello"))
			r.Header.Del("Content-Length")
			r.ContentLength = -1
			switch tt.proto {
			case "1.0":
				r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.0", 1, 0
			case "2":
				r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/2.0", 2, 0
			}
			if tt.chunked {
				r.TransferEncoding = []string{"chunked"}
			}
			if tt.length {
				r.Header.Set("Content-Length", "5")
				r.ContentLength = 5
			}
			rec := httptest.NewRecorder()
			Root(tt.app).ServeHTTP(rec, r)
			if got := rec.Header().Get("Connection") == "close"; got != tt.wantClosed {
				t.Errorf("Connection: %q, want close=%v", rec.Header().Get("Connection"), tt.wantClosed)
			}
		})
	}
}

// TestRootSmugglingOverTheWire sends requests whose framing a front proxy
// may read differently to a real server: each is answered once, and the
// bytes after it are never served as a second request.
func TestRootSmugglingOverTheWire(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	srv := httptest.NewServer(Root(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		io.WriteString(w, r.URL.Path+":"+string(b))
	})))
	defer srv.Close()
	smuggled := "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
	tests := []struct {
		name, raw, body string
		closed          bool
	}{
		{"Content-Length and chunked", "POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled, "", true},
		{"chunked and Content-Length", "POST /first HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\n" + smuggled, "", true},
		{"HTTP/1.0 chunked keep-alive", "POST /first HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n" + fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(smuggled), smuggled), "", true},
		{"HTTP/1.0 keep-alive without length", "POST /first HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + smuggled, "", true},
		// Content-Length may sit beside a Transfer-Encoding net/http dropped.
		{"HTTP/1.0 keep-alive Content-Length", "POST /first HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi" + smuggled, "hi", true},
		{"HTTP/1.0 keep-alive GET", "GET /first HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + smuggled, "", false},
		{"HTTP/1.1 Content-Length", "POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi" + smuggled, "hi", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			paths = nil
			mu.Unlock()
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.WriteString(conn, tt.raw); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != "/first:"+tt.body || resp.Close != tt.closed {
				t.Errorf("first answer %q close=%v, want %q close=%v", b, resp.Close, "/first:"+tt.body, tt.closed)
			}
			second, err := http.ReadResponse(br, nil)
			if tt.closed {
				if err == nil {
					b, _ := io.ReadAll(second.Body)
					t.Errorf("smuggled request answered: %d %q", second.StatusCode, b)
				} else if errors.Is(err, os.ErrDeadlineExceeded) {
					t.Errorf("connection left open: %v", err)
				}
				mu.Lock()
				defer mu.Unlock()
				if len(paths) != 1 {
					t.Errorf("handler saw %q", paths)
				}
				return
			}
			if err != nil {
				t.Fatalf("second request: %v", err)
			}
			b, _ = io.ReadAll(second.Body)
			second.Body.Close()
			if string(b) != "/smuggled:" {
				t.Errorf("second answer %q", b)
			}
		})
	}
}

// recHook is a HeaderHook that records its runs and sets a header.
type recHook struct {
	name string
	log  *[]string
}

func (h recHook) BeforeHeader(s *Request, hd http.Header, arg string) {
	*h.log = append(*h.log, h.name+"("+arg+")")
	if _, set := hd["X-Hook"]; !set {
		hd["X-Hook"] = s.HeaderValue(h.name)
	}
}

// hookFilter adds a recHook, or wraps the writer when it cannot.
func hookFilter(name string, log *[]string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := RequestFrom(r)
		id := st.AddHeaderHook(w, recHook{name, log}, "a-"+name)
		if id < 0 {
			*log = append(*log, name+" wraps")
			next.ServeHTTP(&wrapWriter{ResponseWriter: w, name: name, log: log}, r)
			return
		}
		next.ServeHTTP(w, r)
		st.EndHeaderHook(id)
		*log = append(*log, name+" returned")
	})
}

// wrapWriter is the writer wrapper a hook replaces.
type wrapWriter struct {
	http.ResponseWriter
	name string
	log  *[]string
	done bool
}

func (w *wrapWriter) WriteHeader(code int) {
	if !w.done && code >= 200 {
		w.done = true
		*w.log = append(*w.log, w.name+" wrapper")
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *wrapWriter) Write(p []byte) (int, error) {
	if !w.done {
		w.done = true
		*w.log = append(*w.log, w.name+" wrapper")
	}
	return w.ResponseWriter.Write(p)
}

func TestHeaderHooks(t *testing.T) {
	type step = func(w http.ResponseWriter, r *http.Request, log *[]string)
	tests := []struct {
		name     string
		app      step
		wrapped  bool // a plain wrapper sits between the root and the hooks
		want     string
		wantHook string // X-Hook in the answer
		wantCode int
	}{
		{"write", func(w http.ResponseWriter, r *http.Request, log *[]string) {
			*log = append(*log, "app")
			io.WriteString(w, "x")
			*log = append(*log, "app wrote")
		}, false, "app inner(a-inner) outer(a-outer) app wrote inner returned outer returned", "inner", 200},
		{"WriteHeader then header change", func(w http.ResponseWriter, r *http.Request, log *[]string) {
			w.WriteHeader(201)
			*log = append(*log, "status")
			w.Header().Set("X-After", "1")
		}, false, "inner(a-inner) outer(a-outer) status inner returned outer returned", "inner", 201},
		{"nothing written", func(w http.ResponseWriter, r *http.Request, log *[]string) {
			*log = append(*log, "app")
		}, false, "app inner(a-inner) inner returned outer(a-outer) outer returned", "inner", 200},
		{"1xx first", func(w http.ResponseWriter, r *http.Request, log *[]string) {
			w.WriteHeader(103)
			*log = append(*log, "103")
			w.WriteHeader(204)
		}, false, "103 inner(a-inner) outer(a-outer) inner returned outer returned", "inner", 103}, // the recorder keeps the 1xx code
		{"reset and rewrite runs hooks once", func(w http.ResponseWriter, r *http.Request, log *[]string) {
			w.WriteHeader(200)
			RequestFrom(r).ResetResponse()
			w.WriteHeader(503)
			io.WriteString(w, "again")
		}, false, "inner(a-inner) outer(a-outer) inner returned outer returned", "inner", 503},
		{"behind a wrapper", func(w http.ResponseWriter, r *http.Request, log *[]string) {
			io.WriteString(w, "x")
		}, true, "outer wraps inner wraps inner wrapper outer wrapper", "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log []string
			var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { tt.app(w, r, &log) })
			h = hookFilter("outer", &log, hookFilter("inner", &log, h))
			if tt.wrapped {
				inner := h
				h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					inner.ServeHTTP(struct{ http.ResponseWriter }{w}, r)
				})
			}
			rec := httptest.NewRecorder()
			Root(h).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			if got := strings.Join(log, " "); got != tt.want {
				t.Errorf("order:\n got %s\nwant %s", got, tt.want)
			}
			if rec.Code != tt.wantCode || rec.Header().Get("X-Hook") != tt.wantHook {
				t.Errorf("code %d X-Hook %q, want %d %q", rec.Code, rec.Header().Get("X-Hook"), tt.wantCode, tt.wantHook)
			}
		})
	}
}

func TestHeaderHooksSkippedOnPanic(t *testing.T) {
	old := slog.Default()
	slog.SetDefault(discardLogger())
	defer slog.SetDefault(old)
	var log []string
	h := hookFilter("outer", &log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("boom") }))
	rec := httptest.NewRecorder()
	Root(h).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if len(log) != 0 || rec.Code != 500 || rec.Header().Get("X-Hook") != "" {
		t.Errorf("log %q code %d headers %v", log, rec.Code, rec.Header())
	}
}

func TestHeaderValue(t *testing.T) {
	var vals [][]string
	h := Root(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := RequestFrom(r)
		for i := range valueSlots + 2 {
			vals = append(vals, st.HeaderValue(strconv.Itoa(i)))
		}
		w.Header()["X-A"] = vals[0]
		w.Header().Add("X-A", "more")
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	for i, v := range vals {
		if len(v) != 1 || cap(v) != 1 || v[0] != strconv.Itoa(i) {
			t.Errorf("value %d: %q cap %d", i, v, cap(v))
		}
	}
}

// TestRequestEnd checks End's contract: read once per request, after the
// handler's own work, shared by every later caller, with Start's clock.
func TestRequestEnd(t *testing.T) {
	var inner, outer time.Time
	var st *Request
	var lastInside time.Time
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st = RequestFrom(r)
		lastInside = time.Now()
	})
	timing := func(out *time.Time, next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r)
			*out = RequestFrom(r).End()
		})
	}
	h := Root(timing(&outer, timing(&inner, app)))
	for i := range 3 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
		if !inner.Equal(outer) || inner != outer {
			t.Fatalf("request %d: outer filter's end %v, inner's %v: not the one shared reading", i, outer, inner)
		}
		if inner.Before(lastInside) || inner.Before(st.Start) {
			t.Errorf("request %d: end %v before the handler's last clock read %v or the start %v", i, inner, lastInside, st.Start)
		}
		if inner.Location() != st.Start.Location() || inner.Round(0).Sub(st.Start.Round(0)) != inner.Sub(st.Start) {
			t.Errorf("request %d: end's wall clock %v is not Start's plus the elapsed time", i, inner)
		}
	}
	// A Request not made by a root reads the clock once, like a root's.
	var s Request
	before := time.Now()
	e := s.End()
	if e.Before(before) || s.End() != e {
		t.Errorf("zero-Start End %v (before %v), again %v", e, before, s.End())
	}
}

type identityQuiet struct{ http.HandlerFunc }

func (identityQuiet) ReadsIdentityHeaders() bool { return false }

type identityLoud struct{ http.HandlerFunc }

func (identityLoud) ReadsIdentityHeaders() bool { return true }

// TestReadsIdentityHeaders: a handler that does not say counts as a reader.
func TestReadsIdentityHeaders(t *testing.T) {
	noop := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	for _, tt := range []struct {
		h    http.Handler
		want bool
	}{
		{noop, true},
		{identityQuiet{noop}, false},
		{identityLoud{noop}, true},
		{Root(identityQuiet{noop}), true}, // the root does not say
	} {
		if got := ReadsIdentityHeaders(tt.h); got != tt.want {
			t.Errorf("%T: %v, want %v", tt.h, got, tt.want)
		}
	}
}
