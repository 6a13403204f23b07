package cors

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/vietstack/vietstack-api/pipeline"
)

// record is the part of an oslo-diff record (shared/tools/oslo-diff) the
// tests compare: the request sent and the answer of the real oslo stack.
type record struct {
	Request struct {
		Method  string      `json:"method"`
		Target  string      `json:"target"`
		Headers [][2]string `json:"headers"`
	} `json:"request"`
	Status      int                        `json:"status"`
	HeaderNames []string                   `json:"header_names"`
	Headers     map[string]json.RawMessage `json:"headers"`
}

// textApp answers like the oslo-diff text app.
func textApp(status int, body string, headers ...[2]string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/plain; charset=UTF-8")
		for _, kv := range headers {
			h.Add(kv[0], kv[1])
		}
		w.WriteHeader(status)
		if r.Method != "HEAD" {
			w.Write([]byte(body))
		}
	})
}

// echoApp answers 200 JSON to every method, like the oslo-diff echo app.
var echoApp = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"app": "echo"}`))
})

// routes mirrors testdata/oslo-diff/cors.ini behind one filter instance.
func routes(mw pipeline.Middleware) http.Handler {
	mux := map[string]http.Handler{
		"/notfound": mw(textApp(404, "no such resource")),
		"/preset":   mw(textApp(200, "preset", [2]string{"Access-Control-Allow-Origin", "https://preset.example.test"}, [2]string{"Vary", "Accept"})),
		"/vary":     mw(textApp(200, "varies", [2]string{"Vary", "Accept"})),
	}
	def := mw(echoApp)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, ok := mux[r.URL.Path]; ok {
			h.ServeHTTP(w, r)
			return
		}
		def.ServeHTTP(w, r)
	})
}

// compareRecords replays every record of dir against h.
func compareRecords(t *testing.T, dir string, h http.Handler) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no records in %s: %v", dir, err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var rec record
			if err := json.Unmarshal(data, &rec); err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(rec.Request.Method, "http://api.example.test"+rec.Request.Target, nil)
			for _, kv := range rec.Request.Headers {
				if kv[0] != "Host" && kv[0] != "Connection" && kv[0] != "Content-Length" {
					r.Header.Add(kv[0], kv[1])
				}
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != rec.Status {
				t.Errorf("status %d, oslo %d", w.Code, rec.Status)
			}
			var names []string
			for k := range w.Header() {
				if k := strings.ToLower(k); k != "content-length" {
					names = append(names, k)
				}
			}
			sort.Strings(names)
			if !slices.Equal(names, rec.HeaderNames) {
				t.Errorf("header names %v, oslo %v", names, rec.HeaderNames)
			}
			for k, raw := range rec.Headers {
				var want string
				if err := json.Unmarshal(raw, &want); err != nil {
					t.Fatalf("header %s: %s", k, raw)
				}
				if got := strings.Join(w.Header().Values(k), ", "); got != want {
					t.Errorf("%s: %q, oslo %q", k, got, want)
				}
			}
			if rec.Status == 200 && rec.Request.Method == "OPTIONS" && rec.Request.Target == "/notfound" && w.Body.Len() != 0 {
				t.Errorf("replaced preflight answer has a body: %q", w.Body.String())
			}
		})
	}
}

func newCORS(t *testing.T, local map[string]string) pipeline.Middleware {
	t.Helper()
	mw, err := New(context.Background(), &pipeline.Config{Name: "filter:cors", Local: local})
	if err != nil {
		t.Fatal(err)
	}
	return mw
}

// TestOsloDiffCORS replays the oslo-diff "cors" target (cors.ini, paste
// keys only).
func TestOsloDiffCORS(t *testing.T) {
	mw := newCORS(t, map[string]string{
		"allowed_origin":    "https://dashboard.example.test, https://other.example.test",
		"allow_credentials": "true",
		"expose_headers":    "X-Openstack-Request-Id, X-Subject-Token",
		"max_age":           "600",
		"allow_methods":     "GET, POST, PUT, DELETE, OPTIONS",
		"allow_headers":     "X-Auth-Token, X-Openstack-Request-Id, Content-Type",
	})
	compareModes(t, "testdata/oslo-diff/cors", routes(mw))
}

// TestOsloDiffCORSConf replays the "cors_conf" target: options only in an
// oslo.config file, with a deprecated [cors.legacy] group.
func TestOsloDiffCORSConf(t *testing.T) {
	mw := newCORS(t, map[string]string{
		"oslo_config_project": "oslo-diff",
		"oslo_config_file":    "testdata/oslo-diff/oslo/cors.conf",
	})
	compareModes(t, "testdata/oslo-diff/cors_conf", routes(mw))
}

// compareModes replays dir against h on its own (the filter wraps the
// writer), behind a pipeline root (a header hook adds the headers), and
// behind a root with a writer wrapper further out (the filter wraps
// again): the answers must not differ.
func compareModes(t *testing.T, dir string, h http.Handler) {
	t.Run("alone", func(t *testing.T) { compareRecords(t, dir, h) })
	t.Run("root", func(t *testing.T) { compareRecords(t, dir, pipeline.Root(h)) })
	wrapped := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&pipeline.StatusRecorder{ResponseWriter: w}, r)
	})
	t.Run("root+wrapper", func(t *testing.T) { compareRecords(t, dir, pipeline.Root(wrapped)) })
}

type exchange struct {
	name    string
	method  string
	path    string
	headers [][2]string
	status  int
	want    map[string]string // header -> value; "" means absent
}

func run(t *testing.T, h http.Handler, tests []exchange) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "http://api.example.test"+tt.path, nil)
			for _, kv := range tt.headers {
				r.Header.Add(kv[0], kv[1])
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Errorf("status %d, want %d", w.Code, tt.status)
			}
			for k, v := range tt.want {
				if got := strings.Join(w.Header().Values(k), ", "); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

const dash = "https://dashboard.example.test"

var noCORS = map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Credentials": "", "Access-Control-Allow-Methods": "", "Access-Control-Allow-Headers": "", "Access-Control-Max-Age": "", "Vary": ""}

func TestDisallowed(t *testing.T) {
	h := routes(newCORS(t, map[string]string{"allowed_origin": dash, "allow_headers": "X-Auth-Token"}))
	origin := func(o string) [2]string { return [2]string{"Origin", o} }
	acrm := func(m string) [2]string { return [2]string{"Access-Control-Request-Method", m} }
	run(t, h, []exchange{
		{"unlisted origin", "GET", "/", [][2]string{origin("https://evil.example.test")}, 200, noCORS},
		{"origin with a path", "GET", "/", [][2]string{origin(dash + "/")}, 200, noCORS},
		{"origin prefix attack", "GET", "/", [][2]string{origin(dash + ".evil.test")}, 200, noCORS},
		{"origin other scheme", "GET", "/", [][2]string{origin("http://dashboard.example.test")}, 200, noCORS},
		{"origin null", "GET", "/", [][2]string{origin("null")}, 200, noCORS},
		{"empty origin", "GET", "/", [][2]string{origin("")}, 200, noCORS},
		{"two origins", "GET", "/", [][2]string{origin(dash), origin(dash)}, 200, noCORS},
		{"no origin", "GET", "/", nil, 200, noCORS},
		{"preflight unlisted origin", "OPTIONS", "/", [][2]string{origin("https://evil.example.test"), acrm("GET")}, 200, noCORS},
		{"preflight no origin, app 404 becomes 200", "OPTIONS", "/notfound", [][2]string{acrm("GET")}, 200, map[string]string{"Content-Type": "", "Content-Length": "0", "Vary": ""}},
		{"allowed preflight, app 404 becomes an empty decorated 200", "OPTIONS", "/notfound", [][2]string{origin(dash), acrm("GET")}, 200,
			map[string]string{"Content-Type": "", "Content-Length": "0", "Access-Control-Allow-Origin": dash, "Access-Control-Allow-Methods": "GET", "Vary": "Origin"}},
		{"simple request on 404 keeps its status", "GET", "/notfound", [][2]string{origin(dash)}, 404,
			map[string]string{"Access-Control-Allow-Origin": dash, "Vary": "Origin", "Content-Type": "text/plain; charset=UTF-8"}},
		{"preflight disallowed method", "OPTIONS", "/", [][2]string{origin(dash), acrm("CONNECT")}, 200, noCORS},
		{"preflight two methods", "OPTIONS", "/", [][2]string{origin(dash), acrm("GET"), acrm("POST")}, 200, noCORS},
		{"preflight empty method", "OPTIONS", "/", [][2]string{origin(dash), acrm("")}, 200, noCORS},
		{"preflight disallowed header", "OPTIONS", "/", [][2]string{origin(dash), acrm("GET"), {"Access-Control-Request-Headers", "X-Auth-Token, X-Evil"}}, 200, noCORS},
		{"preflight header case-insensitive", "OPTIONS", "/", [][2]string{origin(dash), acrm("GET"), {"Access-Control-Request-Headers", "x-auth-token"}}, 200,
			map[string]string{"Access-Control-Allow-Origin": dash, "Access-Control-Allow-Headers": "x-auth-token", "Access-Control-Max-Age": "3600", "Access-Control-Allow-Methods": "GET", "Vary": "Origin"}},
		{"preflight header lines joined", "OPTIONS", "/", [][2]string{origin(dash), acrm("GET"), {"Access-Control-Request-Headers", "X-Auth-Token"}, {"Access-Control-Request-Headers", "Accept"}}, 200,
			map[string]string{"Access-Control-Allow-Headers": "X-Auth-Token,Accept"}},
		{"preflight with app ACAO kept as is", "OPTIONS", "/preset", [][2]string{origin(dash), acrm("GET")}, 200,
			map[string]string{"Access-Control-Allow-Origin": "https://preset.example.test", "Access-Control-Allow-Methods": "", "Vary": "Accept"}},
	})
}

func TestWildcard(t *testing.T) {
	// oslo's cors_wildcard.ini: "*" with the default allow_credentials.
	_, err := New(context.Background(), &pipeline.Config{Name: "filter:cors", Local: map[string]string{"allowed_origin": "*"}})
	if err == nil || !strings.Contains(err.Error(), "[filter:cors] allowed_origin:") || !strings.Contains(err.Error(), "allow_credentials") {
		t.Fatalf("error = %v, want a refusal naming [filter:cors] allowed_origin", err)
	}
	h := routes(newCORS(t, map[string]string{"allowed_origin": "*", "allow_credentials": "false"}))
	run(t, h, []exchange{
		{"any origin gets *", "GET", "/", [][2]string{{"Origin", "https://anything.example.test"}}, 200,
			map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Credentials": "", "Vary": "Origin"}},
		{"null origin gets *", "GET", "/", [][2]string{{"Origin", "null"}}, 200, map[string]string{"Access-Control-Allow-Origin": "*"}},
		{"no origin", "GET", "/", nil, 200, noCORS},
		{"preflight TRACE allowed by default", "OPTIONS", "/", [][2]string{{"Origin", "https://a.test"}, {"Access-Control-Request-Method", "TRACE"}}, 200,
			map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "TRACE", "Access-Control-Max-Age": "3600", "Vary": "Origin"}},
		{"preflight CONNECT not allowed", "OPTIONS", "/", [][2]string{{"Origin", "https://a.test"}, {"Access-Control-Request-Method", "CONNECT"}}, 200, noCORS},
		{"preflight simple header", "OPTIONS", "/", [][2]string{{"Origin", "https://a.test"}, {"Access-Control-Request-Method", "POST"}, {"Access-Control-Request-Headers", "Content-Type"}}, 200,
			map[string]string{"Access-Control-Allow-Headers": "Content-Type"}},
		{"preflight custom header refused", "OPTIONS", "/", [][2]string{{"Origin", "https://a.test"}, {"Access-Control-Request-Method", "GET"}, {"Access-Control-Request-Headers", "X-Auth-Token"}}, 200, noCORS},
	})
	// A listed origin keeps its own configuration next to "*".
	mw, err := Middleware(map[string]Origin{
		"*":  {AllowMethods: []string{"GET"}},
		dash: {AllowCredentials: true, AllowMethods: []string{"GET"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	run(t, mw(echoApp), []exchange{
		{"listed origin echoed with credentials", "GET", "/", [][2]string{{"Origin", dash}}, 200,
			map[string]string{"Access-Control-Allow-Origin": dash, "Access-Control-Allow-Credentials": "true"}},
		{"other origin gets *", "GET", "/", [][2]string{{"Origin", "https://x.test"}}, 200,
			map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Credentials": ""}},
	})
	if _, err := Middleware(map[string]Origin{"*": {AllowCredentials: true}}); err == nil {
		t.Error("Middleware accepted * with credentials")
	}
}

func TestStreamingAndNoWrite(t *testing.T) {
	mw := newCORS(t, map[string]string{"allowed_origin": dash})
	silent := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	flusher := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush through the filter: %v", err)
		}
		w.Write([]byte("x"))
	})
	for name, app := range map[string]http.Handler{"silent": silent, "flusher": flusher} {
		for _, method := range []string{"GET", "OPTIONS"} {
			r := httptest.NewRequest(method, "/", nil)
			r.Header.Set("Origin", dash)
			r.Header.Set("Access-Control-Request-Method", "GET")
			w := httptest.NewRecorder()
			mw(app).ServeHTTP(w, r)
			if w.Code != 200 || w.Header().Get("Access-Control-Allow-Origin") != dash {
				t.Errorf("%s %s: %d %v", name, method, w.Code, w.Header())
			}
		}
	}
}

// TestOuterHeadersSurviveReplacement checks that replacing an app's
// non-2xx preflight answer keeps what outer filters set (a request id)
// and drops what the app set.
func TestOuterHeadersSurviveReplacement(t *testing.T) {
	mw := newCORS(t, map[string]string{"allowed_origin": dash})
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-App", "1")
		w.Header().Set("Content-Type", "text/html")
		http.Error(w, "nope", 405)
	})
	outer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Openstack-Request-Id", "req-1")
		mw(app).ServeHTTP(w, r)
	})
	r := httptest.NewRequest("OPTIONS", "/", nil)
	r.Header.Set("Origin", dash)
	r.Header.Set("Access-Control-Request-Method", "GET")
	w := httptest.NewRecorder()
	outer.ServeHTTP(w, r)
	if w.Code != 200 || w.Body.Len() != 0 || w.Header().Get("X-App") != "" || w.Header().Get("Content-Type") != "" ||
		w.Header().Get("X-Openstack-Request-Id") != "req-1" || w.Header().Get("Access-Control-Allow-Origin") != dash {
		t.Errorf("got %d %q %v", w.Code, w.Body.String(), w.Header())
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFactoryErrors(t *testing.T) {
	dir := t.TempDir()
	star := writeFile(t, dir, "star.conf", "[cors]\nallowed_origin = *\n")
	legacyStar := writeFile(t, dir, "legacy.conf", "[cors]\nallowed_origin = https://a.test\n[cors.x]\nallowed_origin = *\n")
	badAge := writeFile(t, dir, "age.conf", "[cors]\nallowed_origin = https://a.test\nmax_age = soon\n")
	tests := []struct {
		name  string
		local map[string]string
		err   string
	}{
		{"nothing configured", nil, "[filter:cors] allowed_origin or oslo_config_project is required"},
		{"star with default credentials", map[string]string{"allowed_origin": "https://a.test, *"}, "[filter:cors] allowed_origin: \"*\" together with allow_credentials"},
		{"star with explicit credentials", map[string]string{"allowed_origin": "*", "allow_credentials": "yes"}, "allowed_origin: \"*\""},
		{"star from the oslo file", map[string]string{"oslo_config_project": "p", "oslo_config_file": star}, "star.conf [cors] allowed_origin: \"*\""},
		{"star in a legacy group", map[string]string{"oslo_config_project": "p", "oslo_config_file": legacyStar}, "legacy.conf [cors.x] allowed_origin: \"*\""},
		{"bad max_age in the file", map[string]string{"oslo_config_project": "p", "oslo_config_file": badAge}, "age.conf [cors] max_age"},
		{"negative max_age", map[string]string{"allowed_origin": "https://a.test", "max_age": "-1"}, "max_age: must not be negative"},
		{"bad credentials", map[string]string{"allowed_origin": "https://a.test", "allow_credentials": "sometimes"}, `allow_credentials: invalid boolean "sometimes"`},
		{"bad method", map[string]string{"allowed_origin": "https://a.test", "allow_methods": "GET, P(T"}, `allow_methods: "P(T" is not a valid name`},
		{"unknown option", map[string]string{"allowed_origins": "https://a.test"}, `did you mean "allowed_origin"`},
		{"missing oslo file", map[string]string{"oslo_config_project": "p", "oslo_config_file": filepath.Join(dir, "none.conf")}, "none.conf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(context.Background(), &pipeline.Config{Name: "filter:cors", Local: tt.local})
			if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "[filter:cors]") {
				t.Fatalf("error = %v, want one containing %q", err, tt.err)
			}
		})
	}
}

func TestFactorySources(t *testing.T) {
	dir := t.TempDir()
	conf := writeFile(t, dir, "svc.conf", "[cors]\nallowed_origin = https://file.test\nmax_age = 10\nallow_credentials = false\n")
	preflight := func(mw pipeline.Middleware, origin string) http.Header {
		r := httptest.NewRequest("OPTIONS", "/", nil)
		r.Header.Set("Origin", origin)
		r.Header.Set("Access-Control-Request-Method", "PATCH")
		r.Header.Set("Access-Control-Request-Headers", "X-OpenStack-Nova-API-Version")
		w := httptest.NewRecorder()
		mw(echoApp).ServeHTTP(w, r)
		return w.Header()
	}
	// Paste keys beat the file; the file beats the defaults.
	h := preflight(newCORS(t, map[string]string{"oslo_config_project": "p", "oslo_config_file": conf, "max_age": "20",
		"allow_headers": "X-OpenStack-Nova-API-Version"}), "https://file.test")
	if h.Get("Access-Control-Max-Age") != "20" || h.Get("Access-Control-Allow-Credentials") != "" || h.Get("Access-Control-Allow-Origin") != "https://file.test" {
		t.Errorf("file + paste keys: %v", h)
	}
	// The global conf counts as Paste conf.
	mw, err := New(context.Background(), &pipeline.Config{Name: "filter:cors", Global: map[string]string{"allowed_origin": "https://global.test", "allow_headers": "X-OpenStack-Nova-API-Version"}})
	if err != nil {
		t.Fatal(err)
	}
	if h := preflight(mw, "https://global.test"); h.Get("Access-Control-Allow-Origin") != "https://global.test" {
		t.Errorf("global conf: %v", h)
	}
	// nova's code defaults when the project is nova and nothing is set.
	novaConf := writeFile(t, dir, "nova.conf", "[cors]\nallowed_origin = https://horizon.test\n")
	h = preflight(newCORS(t, map[string]string{"oslo_config_project": "nova", "oslo_config_file": novaConf}), "https://horizon.test")
	if h.Get("Access-Control-Allow-Methods") != "PATCH" || h.Get("Access-Control-Allow-Headers") != "X-OpenStack-Nova-API-Version" {
		t.Errorf("nova defaults: %v", h)
	}
	// A project without a config file: accepted, inert.
	h = preflight(newCORS(t, map[string]string{"oslo_config_project": "no-such-project-here"}), "https://horizon.test")
	if h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("inert filter answered CORS: %v", h)
	}
}

func TestRegisterAliases(t *testing.T) {
	reg := pipeline.NewRegistry()
	Register(reg)
	for _, s := range []string{"egg:vietstack#cors", "egg:oslo.middleware#cors", "oslo_middleware.cors:filter_factory",
		"oslo_middleware:CORS.factory", "oslo_middleware.cors:CORS.factory"} {
		if f, ok := reg.Lookup(s, pipeline.KindFilter); !ok || f.Name != "cors" {
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
	mw, err := Middleware(map[string]Origin{dash: {AllowCredentials: true, AllowMethods: DefaultMethods}})
	if err != nil {
		t.Fatal(err)
	}
	h := mw(okApp)
	w := &recorder{h: http.Header{}}
	plain := httptest.NewRequest("GET", "/", nil)
	evil := httptest.NewRequest("POST", "/", nil)
	evil.Header.Set("Origin", "https://evil.test")
	for name, r := range map[string]*http.Request{"no Origin": plain, "unlisted Origin": evil} {
		if n := testing.AllocsPerRun(1000, func() { h.ServeHTTP(w, r) }); n != 0 {
			t.Errorf("%s: %v allocations, want 0", name, n)
		}
	}
}

// TestOuterWrapperSeesHeaders: a writer wrapper of a filter further out
// sees the CORS headers when the status passes it, whether or not the
// filter runs behind a root.
func TestOuterWrapperSeesHeaders(t *testing.T) {
	mw := newCORS(t, map[string]string{"allowed_origin": dash})
	for name, app := range map[string]http.HandlerFunc{
		"status": func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) },
		"write":  func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("x")) },
	} {
		for _, root := range []bool{false, true} {
			var saw string
			var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mw(app).ServeHTTP(&peekWriter{ResponseWriter: w, saw: &saw}, r)
			})
			if root {
				h = pipeline.Root(h)
			}
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Origin", dash)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if saw != dash || w.Header().Get("Access-Control-Allow-Origin") != dash {
				t.Errorf("%s root=%v: the outer writer saw %q, the answer has %q", name, root, saw, w.Header().Get("Access-Control-Allow-Origin"))
			}
		}
	}
}

// peekWriter records Access-Control-Allow-Origin when the status passes.
type peekWriter struct {
	http.ResponseWriter
	saw *string
}

func (p *peekWriter) WriteHeader(code int) {
	*p.saw = p.Header().Get("Access-Control-Allow-Origin")
	p.ResponseWriter.WriteHeader(code)
}

func (p *peekWriter) Write(b []byte) (int, error) {
	*p.saw = p.Header().Get("Access-Control-Allow-Origin")
	return p.ResponseWriter.Write(b)
}

// TestHookAllocs: behind a root an allowed origin costs no allocation
// (the header values live in the request state).
func TestHookAllocs(t *testing.T) {
	mw, err := Middleware(map[string]Origin{dash: {AllowCredentials: true, ExposeHeaders: []string{"X-Openstack-Request-Id"}, AllowMethods: DefaultMethods}})
	if err != nil {
		t.Fatal(err)
	}
	w := &recorder{h: http.Header{}}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Origin", dash)
	root, h := pipeline.Root(okApp), pipeline.Root(mw(okApp))
	base := testing.AllocsPerRun(1000, func() { clear(w.h); root.ServeHTTP(w, r) })
	n := testing.AllocsPerRun(1000, func() { clear(w.h); h.ServeHTTP(w, r) })
	if n != base {
		t.Errorf("allowed origin behind a root: %v allocations, the root alone %v", n, base)
	}
	if w.h.Get("Access-Control-Allow-Origin") != dash || w.h.Get("Vary") != "Origin" || w.h.Get("Access-Control-Allow-Credentials") != "true" ||
		w.h.Get("Access-Control-Expose-Headers") != "X-Openstack-Request-Id" {
		t.Errorf("headers %v", w.h)
	}
}

func BenchmarkCORS(b *testing.B) {
	mw, _ := Middleware(map[string]Origin{dash: {AllowCredentials: true, ExposeHeaders: []string{"X-Openstack-Request-Id"}, AllowMethods: DefaultMethods, AllowHeaders: []string{"X-Auth-Token"}}})
	h := mw(okApp)
	mk := func(method string, hdr ...[2]string) *http.Request {
		r := httptest.NewRequest(method, "/", nil)
		for _, kv := range hdr {
			r.Header.Set(kv[0], kv[1])
		}
		return r
	}
	for _, bc := range []struct {
		name string
		r    *http.Request
	}{
		{"no-origin", mk("GET")},
		{"allowed", mk("GET", [2]string{"Origin", dash})},
		{"preflight", mk("OPTIONS", [2]string{"Origin", dash}, [2]string{"Access-Control-Request-Method", "POST"}, [2]string{"Access-Control-Request-Headers", "X-Auth-Token"})},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				w := &recorder{h: make(http.Header, 8)}
				h.ServeHTTP(w, bc.r)
			}
		})
	}
}
