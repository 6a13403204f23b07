package healthcheck

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vietstack/vietstack-api/pipeline"
)

const htmlOK = "<HTML>\n<HEAD><TITLE>Healthcheck Status</TITLE></HEAD>\n<BODY>\n\n<H2>Result of 1 checks:</H2>\n<TABLE bgcolor=\"#ffffff\" border=\"1\">\n<TBODY>\n<TR>\n\n<TH>\nReason\n</TH>\n</TR>\n<TR>\n\n    <TD>OK</TD>\n\n</TR>\n</TBODY>\n</TABLE>\n<HR></HR>\n\n</BODY>\n</HTML>"

func defaults() Options { return Options{Path: "/healthcheck"} }

func mustNew(t *testing.T, o Options, opts ...Option) *Checker {
	t.Helper()
	ch, err := New(o, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return ch
}

type req struct {
	method, target string
	header         map[string]string
	remote         string
}

func do(h http.Handler, q req) *httptest.ResponseRecorder {
	if q.method == "" {
		q.method = http.MethodGet
	}
	r := httptest.NewRequest(q.method, q.target, nil)
	for k, v := range q.header {
		r.Header.Set(k, v)
	}
	if q.remote != "" {
		r.RemoteAddr = q.remote
	}
	w := httptest.NewRecorder()
	pipeline.Root(h).ServeHTTP(w, r)
	return w
}

var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusTeapot)
	w.Write([]byte("app"))
})

// TestAppOsloDiff mirrors the oslo-diff healthcheck_app records of
// oslo.middleware 5.0.0 (status, content type, exact body).
func TestAppOsloDiff(t *testing.T) {
	dir := t.TempDir()
	flag := filepath.Join(dir, "disable")
	o := defaults()
	o.Backends = []string{"disable_by_file"}
	o.DisableByFilePath = flag
	app := mustNew(t, o)
	plain := mustNew(t, defaults())

	tests := []struct {
		name     string
		h        http.Handler
		disabled bool
		req      req
		status   int
		ctype    string
		body     string
	}{
		{"get", app, false, req{target: "/healthcheck"}, 200, ctPlain, "OK"},
		{"head-ok", app, false, req{method: "HEAD", target: "/healthcheck"}, 204, "", ""},
		{"get-html", app, false, req{target: "/healthcheck", header: map[string]string{"Accept": "text/html"}}, 200, ctHTML, htmlOK},
		{"get-accept-q", app, false, req{target: "/healthcheck", header: map[string]string{"Accept": "application/json;q=0.5, text/html"}}, 200, ctHTML, htmlOK},
		{"get-accept-other", app, false, req{target: "/healthcheck", header: map[string]string{"Accept": "image/png"}}, 200, ctPlain, "OK"},
		{"get-json", app, false, req{target: "/healthcheck", header: map[string]string{"Accept": "application/json"}}, 200, ctJSON, "{\n    \"detailed\": false,\n    \"reasons\": [\n        \"OK\"\n    ]\n}"},
		{"get-subpath", app, false, req{target: "/healthcheck/anything"}, 200, ctPlain, "OK"},
		{"post-ok", app, false, req{method: "POST", target: "/healthcheck"}, 200, ctPlain, "OK"},
		{"get-disabled", app, true, req{target: "/healthcheck"}, 503, ctPlain, "DISABLED BY FILE"},
		{"head-disabled", app, true, req{method: "HEAD", target: "/healthcheck"}, 503, ctPlain, ""},
		{"get-json-disabled", app, true, req{target: "/healthcheck", header: map[string]string{"Accept": "application/json"}}, 503, ctJSON, "{\n    \"detailed\": false,\n    \"reasons\": [\n        \"DISABLED BY FILE\"\n    ]\n}"},
		{"get-html-disabled", app, true, req{target: "/healthcheck", header: map[string]string{"Accept": "text/html"}}, 503, ctHTML, strings.Replace(htmlOK, "<TD>OK</TD>", "<TD>DISABLED BY FILE</TD>", 1)},
		{"get-reenabled", app, false, req{target: "/healthcheck"}, 200, ctPlain, "OK"},
		{"plain-get", plain, false, req{target: "/healthcheck_plain"}, 200, ctPlain, ""},
		{"plain-head", plain, false, req{method: "HEAD", target: "/healthcheck_plain"}, 204, "", ""},
		{"plain-json", plain, false, req{target: "/healthcheck_plain", header: map[string]string{"Accept": "application/json"}}, 200, ctJSON, "{\n    \"detailed\": false,\n    \"reasons\": []\n}"},
		{"plain-html", plain, false, req{target: "/", header: map[string]string{"Accept": "text/html"}}, 200, ctHTML,
			"<HTML>\n<HEAD><TITLE>Healthcheck Status</TITLE></HEAD>\n<BODY>\n\n<H2>Result of 0 checks:</H2>\n<TABLE bgcolor=\"#ffffff\" border=\"1\">\n<TBODY>\n<TR>\n\n<TH>\nReason\n</TH>\n</TR>\n\n</TBODY>\n</TABLE>\n<HR></HR>\n\n</BODY>\n</HTML>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.disabled {
				if err := os.WriteFile(flag, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			} else if err := os.Remove(flag); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
			w := do(tt.h, tt.req)
			if w.Code != tt.status {
				t.Errorf("status = %d, want %d", w.Code, tt.status)
			}
			if got := w.Header().Get("Content-Type"); got != tt.ctype {
				t.Errorf("Content-Type = %q, want %q", got, tt.ctype)
			}
			if got := w.Body.String(); got != tt.body {
				t.Errorf("body = %q, want %q", got, tt.body)
			}
			if n := len(w.Header()); tt.ctype == "" && n != 0 {
				t.Errorf("204 has headers %v, want none", w.Header())
			}
		})
	}
}

// TestFilterOsloDiff mirrors the oslo-diff healthcheck_filter and keystone
// records: the filter answers only on the exact full path, any method.
func TestFilterOsloDiff(t *testing.T) {
	dir := t.TempDir()
	flag := filepath.Join(dir, "disable")
	o := defaults()
	o.Path = "/status"
	o.Backends = []string{"disable_by_file"}
	o.DisableByFilePath = flag
	h := mustNew(t, o).Middleware(echo)
	ks := mustNew(t, defaults()).Middleware(echo)

	tests := []struct {
		name     string
		h        http.Handler
		disabled bool
		req      req
		status   int
		body     string
	}{
		{"get-status", h, false, req{target: "/status"}, 200, "OK"},
		{"head-status", h, false, req{method: "HEAD", target: "/status"}, 204, ""},
		{"get-status-query", h, false, req{target: "/status?verbose=1"}, 200, "OK"},
		{"post-status", h, false, req{method: "POST", target: "/status"}, 200, "OK"},
		{"trailing-slash-passes", h, false, req{target: "/status/"}, 418, "app"},
		{"default-path-passes", h, false, req{target: "/healthcheck"}, 418, "app"},
		{"prefix-passes", h, false, req{target: "/statusx"}, 418, "app"},
		{"get-status-disabled", h, true, req{target: "/status"}, 503, "DISABLED BY FILE"},
		{"head-status-disabled", h, true, req{method: "HEAD", target: "/status"}, 503, ""},
		{"other-path-served-while-disabled", h, true, req{target: "/servers"}, 418, "app"},
		{"keystone-healthcheck", ks, false, req{target: "/healthcheck"}, 200, ""},
		{"keystone-head", ks, false, req{method: "HEAD", target: "/healthcheck"}, 204, ""},
		{"keystone-under-v3", ks, false, req{target: "/v3/healthcheck"}, 418, "app"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.disabled {
				if err := os.WriteFile(flag, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			} else if err := os.Remove(flag); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
			w := do(tt.h, tt.req)
			if w.Code != tt.status || w.Body.String() != tt.body {
				t.Errorf("got %d %q, want %d %q", w.Code, w.Body.String(), tt.status, tt.body)
			}
		})
	}
}

// TestFilterScriptName: under urlmap the full path is SCRIPT_NAME +
// PATH_INFO.
func TestFilterScriptName(t *testing.T) {
	mw := mustNew(t, Options{Path: "/v3/healthcheck"}).Middleware(echo)
	strip := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			st := pipeline.RequestFrom(r)
			st.ScriptName = "/v3"
			r.URL.Path = strings.TrimPrefix(r.URL.Path, "/v3")
			next.ServeHTTP(w, r)
		})
	}
	if w := do(strip(mw), req{target: "/v3/healthcheck"}); w.Code != 200 {
		t.Errorf("/v3/healthcheck: %d, want 200", w.Code)
	}
	if w := do(strip(mw), req{target: "/v3/other"}); w.Code != 418 {
		t.Errorf("/v3/other: %d, want 418", w.Code)
	}
}

func TestBackends(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	port5000 := filepath.Join(dir, "p5000")
	os.WriteFile(a, nil, 0o600)
	os.WriteFile(port5000, nil, 0o600)

	enable := mustNew(t, Options{Path: "/", Backends: []string{"enable_by_files"}, EnableByFilePaths: []string{a, b}})
	if w := do(enable, req{target: "/"}); w.Code != 503 || w.Body.String() != "FILE PATH MISSING" {
		t.Errorf("enable_by_files with b missing: %d %q", w.Code, w.Body.String())
	}
	os.WriteFile(b, nil, 0o600)
	if w := do(enable, req{target: "/"}); w.Code != 200 || w.Body.String() != "OK" {
		t.Errorf("enable_by_files with both: %d %q", w.Code, w.Body.String())
	}

	ports := mustNew(t, Options{Path: "/", Backends: []string{"disable_by_files_ports"},
		DisableByFilePaths: []string{"5000:" + port5000, "35357:" + filepath.Join(dir, "none")}})
	for _, tt := range []struct {
		host   string
		status int
	}{{"api:5000", 503}, {"api:35357", 200}, {"api:8080", 200}} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = tt.host
		w := httptest.NewRecorder()
		pipeline.Root(ports).ServeHTTP(w, r)
		if w.Code != tt.status {
			t.Errorf("disable_by_files_ports via Host %s: %d, want %d", tt.host, w.Code, tt.status)
		}
	}
	// The listener's port wins over the Host header (SERVER_PORT).
	srv := httptest.NewServer(pipeline.Root(ports))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("real listener port: %d, want 200", resp.StatusCode)
	}

	// Two backends: the plain answer lists both reasons, one per line.
	both := mustNew(t, Options{Path: "/", Backends: []string{"disable_by_file", "disable_by_files_ports"},
		DisableByFilePath: a, DisableByFilePaths: []string{"80:" + filepath.Join(dir, "none")}})
	if w := do(both, req{target: "/"}); w.Code != 503 || w.Body.String() != "DISABLED BY FILE\nOK" {
		t.Errorf("two backends: %d %q", w.Code, w.Body.String())
	}
}

func TestDrain(t *testing.T) {
	d := &Drain{}
	ch := mustNew(t, defaults(), WithDrain(d))
	mw := ch.Middleware(echo)
	if w := do(ch, req{target: "/"}); w.Code != 200 {
		t.Fatalf("before Set: %d", w.Code)
	}
	d.Set()
	if w := do(ch, req{target: "/"}); w.Code != 503 || w.Body.String() != "SHUTTING DOWN" {
		t.Errorf("draining app: %d %q", w.Code, w.Body.String())
	}
	if w := do(mw, req{method: "HEAD", target: "/healthcheck"}); w.Code != 503 {
		t.Errorf("draining filter HEAD: %d", w.Code)
	}
	if w := do(mw, req{target: "/servers"}); w.Code != 418 {
		t.Errorf("draining filter still serves other paths: %d", w.Code)
	}
	d.Clear()
	if w := do(ch, req{target: "/"}); w.Code != 200 {
		t.Errorf("after Clear: %d", w.Code)
	}
	var nilDrain *Drain
	if nilDrain.IsSet() {
		t.Error("nil Drain is set")
	}
}

func TestSourceRangesAndProxied(t *testing.T) {
	o := Options{Path: "/healthcheck", AllowedSourceRanges: []string{"10.0.0.0/8", "2001:db8::/32", "192.0.2.7"}, IgnoreProxiedRequests: true}
	ch := mustNew(t, o)
	mw := ch.Middleware(echo)
	tests := []struct {
		name   string
		h      http.Handler
		remote string
		header map[string]string
		status int
	}{
		{"app allowed v4", ch, "10.1.2.3:5555", nil, 200},
		{"app allowed single", ch, "192.0.2.7:1", nil, 200},
		{"app allowed v6", ch, "[2001:db8::1]:443", nil, 200},
		{"app allowed mapped v4", ch, "[::ffff:10.0.0.1]:1", nil, 200},
		{"app denied", ch, "203.0.113.9:1", nil, 404},
		{"app garbage remote", ch, "garbage", nil, 404},
		{"app proxied", ch, "10.0.0.1:1", map[string]string{"X-Forwarded-For": "10.0.0.1"}, 404},
		// '_' spellings are dropped by the pipeline root, so they do not
		// count as proxied.
		{"app proxied underscore", ch, "10.0.0.1:1", map[string]string{"X_Forwarded_Proto": "https"}, 200},
		{"app proxied bare", ch, "10.0.0.1:1", map[string]string{"X-Forwarded": "for=1"}, 404},
		{"app Forwarded not checked (as oslo)", ch, "10.0.0.1:1", map[string]string{"Forwarded": "for=1"}, 200},
		{"app empty proxy header ignored", ch, "10.0.0.1:1", map[string]string{"X-Forwarded-Host": ""}, 200},
		{"filter denied passes on", mw, "203.0.113.9:1", nil, 418},
		{"filter proxied passes on", mw, "10.0.0.1:1", map[string]string{"X-Forwarded-Prefix": "/x"}, 418},
		{"filter allowed", mw, "10.0.0.1:1", nil, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(tt.h, req{target: "/healthcheck", remote: tt.remote, header: tt.header})
			if w.Code != tt.status {
				t.Errorf("status = %d, want %d", w.Code, tt.status)
			}
		})
	}
}

func TestDetailed(t *testing.T) {
	dir := t.TempDir()
	o := Options{Path: "/", Detailed: true, AllowedSourceRanges: []string{"192.0.2.0/24"},
		Backends: []string{"disable_by_file"}, DisableByFilePath: filepath.Join(dir, "off")}
	ch := mustNew(t, o)
	w := do(ch, req{target: "/", remote: "192.0.2.1:1", header: map[string]string{"Accept": "application/json"}})
	var got map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatalf("JSON: %v: %s", err, w.Body)
	}
	if got["detailed"] != true || got["goroutines"] == nil || got["now"] == nil {
		t.Errorf("detailed JSON lacks fields: %s", w.Body)
	}
	reasons, _ := got["reasons"].([]any)
	if len(reasons) != 1 || reasons[0].(map[string]any)["class"] != "DisableByFileHealthcheck" {
		t.Errorf("reasons = %v", got["reasons"])
	}
	host, _ := os.Hostname()
	for _, accept := range []string{"application/json", "text/html", "text/plain"} {
		w := do(ch, req{target: "/", remote: "192.0.2.1:1", header: map[string]string{"Accept": accept}})
		body := w.Body.String()
		for _, leak := range []string{"go1.", "goroutine 1 [", ".go:", "runtime."} {
			if strings.Contains(body, leak) {
				t.Errorf("%s detailed answer leaks %q: %s", accept, leak, body)
			}
		}
		if host != "" && strings.Contains(body, host) {
			t.Errorf("%s detailed answer leaks the host name", accept)
		}
	}
	html := do(ch, req{target: "/", remote: "192.0.2.1:1", header: map[string]string{"Accept": "text/html"}}).Body.String()
	if !strings.Contains(html, "<TR>\n<TD>DisableByFileHealthcheck</TD>\n    <TD>OK</TD>\n<TD>Path &#39;") {
		t.Errorf("detailed HTML row: %s", html)
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		key  string
		msg  string
	}{
		{"unknown backend", Options{Path: "/", Backends: []string{"disable_by_fil"}}, "backends", `did you mean "disable_by_file"`},
		{"disable_by_file without path", Options{Path: "/", Backends: []string{"disable_by_file"}}, "disable_by_file_path", "required"},
		{"ports without paths", Options{Path: "/", Backends: []string{"disable_by_files_ports"}}, "disable_by_file_paths", "required"},
		{"ports bad item", Options{Path: "/", Backends: []string{"disable_by_files_ports"}, DisableByFilePaths: []string{"http:/x"}}, "disable_by_file_paths", "not port:path"},
		{"enable without paths", Options{Path: "/", Backends: []string{"enable_by_files"}}, "enable_by_file_paths", "required"},
		{"enable and disable", Options{Path: "/", Backends: []string{"disable_by_file", "enable_by_files"}, DisableByFilePath: "/x", EnableByFilePaths: []string{"/y"}}, "backends", "cannot be used together"},
		{"bad range", Options{Path: "/", AllowedSourceRanges: []string{"10.0.0.0/33"}}, "allowed_source_ranges", "not a network"},
		{"host bits", Options{Path: "/", AllowedSourceRanges: []string{"10.0.0.1/8"}}, "allowed_source_ranges", "host bits"},
		{"detailed without ranges", Options{Path: "/", Detailed: true}, "detailed", "requires allowed_source_ranges"},
		{"relative path", Options{Path: "healthcheck"}, "path", "must start"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.o)
			var oe *OptionError
			if !errors.As(err, &oe) || oe.Key != tt.key || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err = %v, want key %q containing %q", err, tt.key, tt.msg)
			}
		})
	}
}

func TestFactories(t *testing.T) {
	dir := t.TempDir()
	flag := filepath.Join(dir, "off")
	reg := pipeline.NewRegistry()
	Register(reg)
	for spelling, kind := range map[string]pipeline.FactoryKind{
		"oslo_middleware:Healthcheck.app_factory": pipeline.KindApp,
		"oslo_middleware:Healthcheck.factory":     pipeline.KindFilter,
		"egg:oslo.middleware#healthcheck":         pipeline.KindApp,
		"egg:vietstack#healthcheck":               pipeline.KindApp,
		"egg:vietstack#healthcheck_filter":        pipeline.KindFilter,
	} {
		f, ok := reg.Lookup(spelling, kind)
		if !ok || f.Kind != kind {
			t.Errorf("Lookup(%q, %s) = %v, %v", spelling, kind, f, ok)
		}
	}
	if f, ok := reg.Lookup("egg:oslo.middleware#healthcheck", pipeline.KindFilter); !ok || f.Name != "healthcheck_filter" {
		t.Errorf("egg spelling as a filter: %v %v", f, ok)
	}

	c := &pipeline.Config{Name: "app:healthcheck", Local: map[string]string{
		"backends": "disable_by_file", "disable_by_file_path": flag, "oslo_config_project": "nova"}}
	h, err := AppFactory()(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(flag, nil, 0o600)
	if w := do(h, req{target: "/"}); w.Code != 503 {
		t.Errorf("app from factory: %d", w.Code)
	}
	c = &pipeline.Config{Name: "filter:healthcheck", Local: map[string]string{"path": "/status"}}
	mw, err := FilterFactory()(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if w := do(mw(echo), req{target: "/status"}); w.Code != 200 {
		t.Errorf("filter from factory: %d", w.Code)
	}
	for _, local := range []map[string]string{
		{"backends": "disable_by_file"},
		{"detailed": "maybe"},
		{"bakends": "disable_by_file"},
	} {
		c := &pipeline.Config{Name: "app:healthcheck", Local: local}
		if _, err := AppFactory()(context.Background(), c); err == nil || !strings.Contains(err.Error(), "[app:healthcheck]") {
			t.Errorf("options %v: err = %v, want a positioned error", local, err)
		}
	}
}

// TestFilterPassThroughAllocs: a request that is not for the healthcheck
// costs the filter no allocation.
func TestFilterPassThroughAllocs(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	o := Options{Path: "/healthcheck", IgnoreProxiedRequests: true, AllowedSourceRanges: []string{"10.0.0.0/8"}}
	with := pipeline.Root(mustNew(t, o).Middleware(ok))
	without := pipeline.Root(ok)
	r := httptest.NewRequest("GET", "/servers/detail", nil)
	w := httptest.NewRecorder()
	base := testing.AllocsPerRun(200, func() { without.ServeHTTP(w, r) })
	got := testing.AllocsPerRun(200, func() { with.ServeHTTP(w, r) })
	if got != base {
		t.Errorf("filter pass-through allocs = %v, want %v (root only)", got, base)
	}
}

func BenchmarkFilterPassThrough(b *testing.B) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	h := pipeline.Root(mustNewB(b, defaults()).Middleware(ok))
	r := httptest.NewRequest("GET", "/servers/detail", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

func BenchmarkAppDisableByFile(b *testing.B) {
	o := defaults()
	o.Backends = []string{"disable_by_file"}
	o.DisableByFilePath = filepath.Join(b.TempDir(), "off")
	h := pipeline.Root(mustNewB(b, o))
	r := httptest.NewRequest("GET", "/healthcheck", nil)
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
}

func mustNewB(b *testing.B, o Options) *Checker {
	ch, err := New(o)
	if err != nil {
		b.Fatal(err)
	}
	return ch
}

// TestOsloConfig: options come from the paste section, else the global
// conf, else the [healthcheck] group of the oslo.config file the section
// names (as aodh, gnocchi and vitrage configure it).
func TestOsloConfig(t *testing.T) {
	dir := t.TempDir()
	flag := filepath.Join(dir, "off")
	conf := filepath.Join(dir, "aodh.conf")
	os.WriteFile(conf, []byte("[DEFAULT]\ndebug = true\n\n[healthcheck]\nbackends = disable_by_file\ndisable_by_file_path = "+flag+"\npath = /from-file\n"), 0o600)
	c := &pipeline.Config{Name: "app:healthcheck",
		Local:  map[string]string{"oslo_config_project": "aodh", "oslo_config_file": conf},
		Global: map[string]string{"path": "/from-global"}}
	h, err := AppFactory()(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(flag, nil, 0o600)
	if w := do(h, req{target: "/"}); w.Code != 503 || w.Body.String() != "DISABLED BY FILE" {
		t.Errorf("backends from the oslo file: %d %q", w.Code, w.Body)
	}
	mw, err := FilterFactory()(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if w := do(mw(echo), req{target: "/from-global"}); w.Code != 503 {
		t.Errorf("global conf should win over the file: /from-global got %d", w.Code)
	}

	os.WriteFile(conf, []byte("[healthcheck]\ndetailed = perhaps\n"), 0o600)
	if _, err := AppFactory()(context.Background(), c); err == nil || !strings.Contains(err.Error(), "aodh.conf") {
		t.Errorf("bad value in the oslo file: err = %v, want it to name the file", err)
	}
	c.Local["oslo_config_file"] = filepath.Join(dir, "missing.conf")
	if _, err := AppFactory()(context.Background(), c); err == nil {
		t.Error("missing oslo_config_file accepted")
	}
}

// ExampleDrain shows how a daemon ties its shutdown to the healthchecks:
// it owns one Drain, registers the factories with it, and sets it when
// the stop signal arrives, before draining in-flight requests.
func ExampleDrain() {
	drain := &Drain{}
	reg := pipeline.NewRegistry()
	Register(reg, WithDrain(drain))
	// ... build and serve; on SIGTERM:
	drain.Set()
	// wait shutdown_delay so load balancers notice the 503s, then
	// http.Server.Shutdown.
}
