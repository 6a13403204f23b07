package requestid

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/vietstack/vietstack-api/pipeline"
)

// seen records what the application saw of the request state.
type seen struct {
	id, global string
	hasState   bool
}

// app records the request state and answers 200, optionally setting its
// own request id header first.
func app(s *seen, preset string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if st := pipeline.RequestFrom(r); st != nil {
			s.hasState = true
			s.id, s.global = st.RequestID, st.GlobalRequestID
		}
		if preset != "" {
			w.Header().Set(HeaderName, preset)
		}
		w.WriteHeader(http.StatusOK)
	})
}

func serve(h http.Handler, hdr ...[2]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", "/", nil)
	for _, kv := range hdr {
		r.Header.Add(kv[0], kv[1])
	}
	w := httptest.NewRecorder()
	pipeline.Root(h).ServeHTTP(w, r)
	return w
}

const validInbound = "req-3f1d6d2a-9d1c-4a77-8e4b-5f2c0b1e7a10"

func TestInboundIDs(t *testing.T) {
	tests := []struct {
		name    string
		headers [][2]string
		global  string
	}{
		{"none", nil, ""},
		{"valid", [][2]string{{"X-Openstack-Request-Id", validInbound}}, validInbound},
		{"valid lower-case name", [][2]string{{"x-openstack-request-id", validInbound}}, validInbound},
		{"upper-case hex", [][2]string{{"X-Openstack-Request-Id", strings.ToUpper(validInbound[4:])}}, ""},
		{"upper-case prefix", [][2]string{{"X-Openstack-Request-Id", "REQ-" + validInbound[4:]}}, ""},
		{"bare uuid", [][2]string{{"X-Openstack-Request-Id", validInbound[4:]}}, ""},
		{"other prefix", [][2]string{{"X-Openstack-Request-Id", "request-" + validInbound[4:]}}, ""},
		{"short", [][2]string{{"X-Openstack-Request-Id", validInbound[:39]}}, ""},
		{"trailing garbage", [][2]string{{"X-Openstack-Request-Id", validInbound + "x"}}, ""},
		{"trailing newline", [][2]string{{"X-Openstack-Request-Id", validInbound + "\n"}}, ""},
		{"CRLF injection", [][2]string{{"X-Openstack-Request-Id", validInbound + "\r\nSet-Cookie: a=b"}}, ""},
		{"hyphen moved", [][2]string{{"X-Openstack-Request-Id", "req-3f1d6d2a9-d1c-4a77-8e4b-5f2c0b1e7a10"}}, ""},
		{"no hyphens", [][2]string{{"X-Openstack-Request-Id", "req-3f1d6d2a09d1c04a7708e4b05f2c0b1e7a10"}}, ""},
		{"free text", [][2]string{{"X-Openstack-Request-Id", "<script>alert(1)</script>"}}, ""},
		{"10 KiB", [][2]string{{"X-Openstack-Request-Id", "req-" + strings.Repeat("a", 10240)}}, ""},
		{"empty", [][2]string{{"X-Openstack-Request-Id", ""}}, ""},
		{"two headers", [][2]string{{"X-Openstack-Request-Id", validInbound}, {"X-Openstack-Request-Id", validInbound}}, ""},
		{"non-ASCII", [][2]string{{"X-Openstack-Request-Id", "req-3f1d6d2a-9d1c-4a77-8e4b-5f2c0b1e7a1é"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s seen
			w := serve(Middleware()(app(&s, "")), tt.headers...)
			got := w.Header().Values(HeaderName)
			if len(got) != 1 || !ValidID(got[0]) {
				t.Fatalf("response ids = %q, want one fresh req-<uuid>", got)
			}
			if got[0] == validInbound {
				t.Errorf("the inbound id was echoed as the local id")
			}
			if !s.hasState || s.id != got[0] {
				t.Errorf("app saw RequestID %q, response says %q", s.id, got[0])
			}
			if s.global != tt.global {
				t.Errorf("GlobalRequestID = %q, want %q", s.global, tt.global)
			}
		})
	}
}

func TestFreshAndWellFormed(t *testing.T) {
	ids := map[string]bool{}
	for range 10000 {
		id := NewID()
		if !ValidID(id) {
			t.Fatalf("NewID() = %q is not req-<canonical uuid>", id)
		}
		if id[18] != '4' || !strings.ContainsRune("89ab", rune(id[23])) {
			t.Fatalf("NewID() = %q: not a version 4, RFC 4122 variant uuid", id)
		}
		if ids[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		ids[id] = true
	}
}

func TestConcurrentIDs(t *testing.T) {
	const n, per = 8, 2000
	out := make(chan string, n*per)
	for range n {
		go func() {
			for range per {
				out <- NewID()
			}
		}()
	}
	ids := map[string]bool{}
	for range n * per {
		id := <-out
		if ids[id] {
			t.Fatalf("repeated id %q across goroutines", id)
		}
		ids[id] = true
	}
}

func TestAppSetHeaderWins(t *testing.T) {
	const preset = "req-00000000-0000-4000-8000-000000000001"
	var s seen
	w := serve(Middleware()(app(&s, preset)), [2]string{"X-Openstack-Request-Id", validInbound})
	if got := w.Header().Values(HeaderName); len(got) != 1 || got[0] != preset {
		t.Errorf("response ids = %q, want only the app's %q", got, preset)
	}
	if s.global != validInbound || !ValidID(s.id) || s.id == preset {
		t.Errorf("state = %+v", s)
	}
}

func TestAppAddedHeaderWins(t *testing.T) {
	const preset = "req-00000000-0000-4000-8000-000000000001"
	h := Middleware(ComputeHeaderName)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add(HeaderName, preset) // as the oslo-diff text app and ReverseProxy do
		w.Write([]byte("x"))
	}))
	w := serve(h)
	if got := w.Header().Values(HeaderName); len(got) != 1 || got[0] != preset {
		t.Errorf("response ids = %q, want only the app's %q", got, preset)
	}
	if got := w.Header().Values(ComputeHeaderName); len(got) != 1 || !ValidID(got[0]) || got[0] == preset {
		t.Errorf("compat header = %q, want our own id (the app did not set it)", got)
	}
}

func TestBehindReverseProxy(t *testing.T) {
	const backendID = "req-11111111-2222-4333-8444-555555555555"
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(HeaderName, backendID)
		w.Write([]byte("from backend"))
	}))
	defer backend.Close()
	u, _ := url.Parse(backend.URL)
	front := httptest.NewServer(pipeline.Root(Middleware()(httputil.NewSingleHostReverseProxy(u))))
	defer front.Close()
	res, err := http.Get(front.URL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := res.Header.Values(HeaderName); len(got) != 1 || got[0] != backendID {
		t.Errorf("ids through the proxy = %q, want only the backend's", got)
	}
}

func TestFlushAndNoWrite(t *testing.T) {
	for name, app := range map[string]http.HandlerFunc{
		"silent": func(w http.ResponseWriter, r *http.Request) {},
		"flush first": func(w http.ResponseWriter, r *http.Request) {
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Errorf("Flush: %v", err)
			}
			w.Write([]byte("x"))
		},
		"informational first": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</a>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusCreated)
		},
	} {
		var s seen
		h := Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.id = pipeline.RequestFrom(r).RequestID
			app(w, r)
		}))
		srv := httptest.NewServer(pipeline.Root(h))
		res, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		srv.Close()
		if got := res.Header.Values(HeaderName); len(got) != 1 || got[0] != s.id {
			t.Errorf("%s: ids %q, want [%q]", name, got, s.id)
		}
	}
}

func TestNestedFiltersReturnInnerID(t *testing.T) {
	var s seen
	h := Middleware()(Middleware()(app(&s, "")))
	w := serve(h)
	if got := w.Header().Values(HeaderName); len(got) != 1 || got[0] != s.id {
		t.Errorf("response ids = %q, want the id the app saw (%q)", got, s.id)
	}
}

func TestHeaderOnEveryStatusAndHEAD(t *testing.T) {
	for _, code := range []int{200, 204, 304, 404, 413, 500} {
		h := Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(code)
		}))
		r := httptest.NewRequest("HEAD", "/", nil)
		w := httptest.NewRecorder()
		pipeline.Root(h).ServeHTTP(w, r)
		if w.Code != code || !ValidID(w.Header().Get(HeaderName)) {
			t.Errorf("%d: status %d, id %q", code, w.Code, w.Header().Get(HeaderName))
		}
	}
}

func TestWithoutPipelineState(t *testing.T) {
	var s seen
	h := Middleware()(app(&s, ""))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if s.hasState || !ValidID(w.Header().Get(HeaderName)) {
		t.Errorf("without a root: state %v, header %q", s.hasState, w.Header().Get(HeaderName))
	}
}

func TestFactories(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		factory pipeline.FilterFactory
		local   map[string]string
		headers []string // response headers carrying the id
		err     string
	}{
		{"plain", New, nil, []string{HeaderName}, ""},
		{"oslo keys accepted", New, map[string]string{"oslo_config_project": "ceilometer"}, []string{HeaderName}, ""},
		{"compat option", New, map[string]string{"compat_headers": "x-compute-request-id"}, []string{HeaderName, ComputeHeaderName}, ""},
		{"compute default", NewCompute, nil, []string{HeaderName, ComputeHeaderName}, ""},
		{"compute duplicate of main", NewCompute, map[string]string{"compat_headers": "x-openstack-request-id, x-compute-request-id"}, []string{HeaderName, ComputeHeaderName}, ""},
		{"unknown option", New, map[string]string{"compat_header": "x"}, nil, `did you mean "compat_headers"`},
		{"bad header name", New, map[string]string{"compat_headers": "x:y"}, nil, `compat_headers: "x:y" is not a valid header name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &pipeline.Config{Name: "filter:request_id", Local: tt.local}
			mw, err := tt.factory(ctx, c)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var s seen
			w := serve(mw(app(&s, "")))
			if len(w.Header()) != len(tt.headers)+0 {
				t.Errorf("response headers = %v, want exactly %v", w.Header(), tt.headers)
			}
			for _, k := range tt.headers {
				if got := w.Header().Values(k); len(got) != 1 || got[0] != s.id {
					t.Errorf("%s = %q, want [%q]", k, got, s.id)
				}
			}
		})
	}
}

func TestRegisterAliases(t *testing.T) {
	reg := pipeline.NewRegistry()
	Register(reg)
	for spelling, want := range map[string]string{
		"egg:vietstack#request_id":                                                   "request_id",
		"egg:oslo.middleware#request_id":                                             "request_id",
		"egg:oslo_middleware#request_id":                                             "request_id",
		"oslo_middleware:RequestId.factory":                                          "request_id",
		"oslo_middleware.request_id:RequestId.factory":                               "request_id",
		"cinder.api.middleware.request_id:RequestId.factory":                         "request_id",
		"cinder.openstack.common.middleware.request_id:RequestIdMiddleware.factory":  "request_id",
		"neutron.openstack.common.middleware.request_id:RequestIdMiddleware.factory": "request_id",
		"nova.openstack.common.middleware.request_id:RequestIdMiddleware.factory":    "request_id",
		"nova.api.compute_req_id:ComputeReqIdMiddleware.factory":                     "compute_req_id",
	} {
		f, ok := reg.Lookup(spelling, pipeline.KindFilter)
		if !ok || f.Name != want || f.Kind != pipeline.KindFilter {
			t.Errorf("Lookup(%q) = %v, %v; want filter %q", spelling, f, ok, want)
		}
	}
}

// recorder is a response writer that allocates nothing per call, so
// allocation counts measure only the filter.
type recorder struct {
	h      http.Header
	status int
}

func (w *recorder) Header() http.Header         { return w.h }
func (w *recorder) WriteHeader(code int)        { w.status = code }
func (w *recorder) Write(p []byte) (int, error) { return len(p), nil }

// stateRequest returns a request that carries pipeline state, as one
// inside a generation does.
func stateRequest(target string) *http.Request {
	var out *http.Request
	pipeline.Root(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { out = r })).
		ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", target, nil))
	return out
}

var okApp = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })

func TestAllocs(t *testing.T) {
	h := Middleware()(okApp)
	r := stateRequest("/")
	r.Header.Set(HeaderName, validInbound)
	w := &recorder{h: http.Header{}}
	// Not behind the root's writer (w is not it): one allocation for the
	// id string, one for the writer wrapper (which also holds the header
	// value).
	if n := testing.AllocsPerRun(1000, func() { h.ServeHTTP(w, r) }); n > 2 {
		t.Errorf("%v allocations per request, want at most 2", n)
	}
	if n := testing.AllocsPerRun(1000, func() { _ = NewID() }); n > 1 {
		t.Errorf("NewID: %v allocations, want 1", n)
	}
}

// TestAllocsBehindRoot: behind a root the headers come from a header hook
// and the value lives in the request state, so the id string is the
// filter's only allocation.
func TestAllocsBehindRoot(t *testing.T) {
	w := &recorder{h: http.Header{}}
	r := httptest.NewRequest("GET", "/", nil)
	root := pipeline.Root(okApp)
	h := pipeline.Root(Middleware(ComputeHeaderName)(okApp))
	base := testing.AllocsPerRun(1000, func() { clear(w.h); root.ServeHTTP(w, r) })
	n := testing.AllocsPerRun(1000, func() { clear(w.h); h.ServeHTTP(w, r) })
	if n-base > 1 {
		t.Errorf("%v allocations per request over the root's %v, want 1 (the id)", n-base, base)
	}
	if !ValidID(w.h.Get(HeaderName)) || w.h.Get(ComputeHeaderName) != w.h.Get(HeaderName) {
		t.Errorf("headers %v", w.h)
	}
}

// peekWriter is an outer filter's writer wrapper that looks at the
// response headers when the status passes it.
type peekWriter struct {
	http.ResponseWriter
	saw    []string
	peeked bool
}

func (p *peekWriter) peek() {
	if !p.peeked {
		p.peeked = true
		p.saw = p.Header().Values(HeaderName)
	}
}

func (p *peekWriter) WriteHeader(code int) {
	if code >= 200 {
		p.peek()
	}
	p.ResponseWriter.WriteHeader(code)
}

func (p *peekWriter) Write(b []byte) (int, error) { p.peek(); return p.ResponseWriter.Write(b) }

// TestBehindWriterWrapper: with a writer wrapper between the root and the
// filter, the filter wraps the writer itself (the wrapper further out
// must see the id headers when the status passes it), with the same
// answers.
func TestBehindWriterWrapper(t *testing.T) {
	const preset = "req-00000000-0000-4000-8000-000000000001"
	for _, wrapped := range []bool{false, true} {
		for name, app := range map[string]http.HandlerFunc{
			"silent":   func(w http.ResponseWriter, r *http.Request) {},
			"write":    func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("x")) },
			"app sets": func(w http.ResponseWriter, r *http.Request) { w.Header().Set(HeaderName, preset); w.WriteHeader(202) },
			"app adds": func(w http.ResponseWriter, r *http.Request) {
				w.Header().Add(ComputeHeaderName, preset)
				w.WriteHeader(202)
			},
			"status":    func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404) },
			"early 1xx": func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(103); w.WriteHeader(201) },
		} {
			var id string
			var outerSaw []string
			var h http.Handler = Middleware(ComputeHeaderName)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				id = pipeline.RequestFrom(r).RequestID
				app(w, r)
			}))
			if wrapped {
				inner := h
				h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					pw := &peekWriter{ResponseWriter: w}
					inner.ServeHTTP(pw, r)
					if !pw.peeked {
						pw.peek() // nothing written: look when the call returns
					}
					outerSaw = pw.saw
				})
			}
			w := httptest.NewRecorder()
			pipeline.Root(h).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
			want, wantCompat := id, id
			if name == "app sets" {
				want = preset
			}
			if name == "app adds" {
				wantCompat = preset
			}
			if got := w.Header().Values(HeaderName); len(got) != 1 || got[0] != want {
				t.Errorf("wrapped=%v %s: ids %q, want [%q]", wrapped, name, got, want)
			}
			if got := w.Header().Values(ComputeHeaderName); len(got) != 1 || got[0] != wantCompat {
				t.Errorf("wrapped=%v %s: compat ids %q, want [%q]", wrapped, name, got, wantCompat)
			}
			if wrapped && (len(outerSaw) != 1 || outerSaw[0] != want) {
				t.Errorf("wrapped %s: the outer filter's writer saw %q", name, outerSaw)
			}
		}
	}
}

func BenchmarkRequestID(b *testing.B) {
	h := Middleware()(okApp)
	r := stateRequest("/")
	r.Header.Set(HeaderName, validInbound)
	w := &recorder{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

func BenchmarkNewIDParallel(b *testing.B) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = NewID()
		}
	})
}
