package pipeline

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vietstack/vietstack-api/pipeline/paste"
)

// markOpts is the option struct of the test factories.
type markOpts struct {
	Mark string `ini:"mark"`
}

// testRegistry has an app that echoes the marks and script name it saw,
// a filter that appends its mark to a request header, a failing and a
// panicking factory, and a closer counter.
func testRegistry(closed *[]string) *Registry {
	r := NewRegistry()
	r.App("marks", func(ctx context.Context, c *Config) (http.Handler, error) {
		var o markOpts
		if err := c.Decode(&o); err != nil {
			return nil, err
		}
		c.OnClose(func() error { *closed = append(*closed, "app:"+o.Mark); return nil })
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sn := ""
			if st := RequestFrom(r); st != nil {
				sn = st.ScriptName
			}
			io.WriteString(w, o.Mark+" seen="+strings.Join(r.Header["X-Mark"], ",")+" script="+sn+" path="+r.URL.Path)
		}), nil
	}, Info{Doc: "test app", Options: markOpts{}})
	r.Filter("mark", func(ctx context.Context, c *Config) (Middleware, error) {
		var o markOpts
		if err := c.Decode(&o); err != nil {
			return nil, err
		}
		c.OnClose(func() error { *closed = append(*closed, "filter:"+o.Mark); return nil })
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				r.Header["X-Mark"] = append(r.Header["X-Mark"], o.Mark)
				next.ServeHTTP(w, r)
			})
		}, nil
	}, Info{Doc: "test filter", Options: markOpts{}})
	r.Filter("fails", func(ctx context.Context, c *Config) (Middleware, error) {
		return nil, c.Errorf("mark", "always fails")
	}, Info{})
	r.Filter("panics", func(ctx context.Context, c *Config) (Middleware, error) {
		panic("boom")
	}, Info{})
	r.Alias("oslo_middleware:Mark.factory", "mark")
	return r
}

func pos(line int) paste.Pos { return paste.Pos{File: "t.ini", Line: line} }

func app(mark string, line int) *paste.Node {
	return &paste.Node{Type: paste.TypeApp, Factory: "egg:vietstack#marks", Protocol: paste.ProtoApp,
		Local: map[string]string{"mark": mark}, Section: "app:" + mark, Pos: pos(line),
		KeyPos: map[string]paste.Pos{"use": pos(line + 1), "mark": pos(line + 2)}}
}

func filter(factory, mark string, line int, inner *paste.Node) *paste.Node {
	return &paste.Node{Type: paste.TypeFilter, Factory: factory, Protocol: paste.ProtoFilter,
		Local: map[string]string{"mark": mark}, Section: "filter:" + mark, Pos: pos(line),
		KeyPos: map[string]paste.Pos{"use": pos(line + 1), "mark": pos(line + 2)}, App: inner}
}

func serve(t *testing.T, h http.Handler, method, target string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec.Code, rec.Body.String()
}

func TestBuildPipelineOrder(t *testing.T) {
	var closed []string
	// pipeline = a b c app: a outermost.
	g := &paste.Graph{Root: filter("egg:vietstack#mark", "a", 1,
		filter("oslo_middleware : Mark.factory", "b", 10,
			filter("egg:vietstack#mark", "c", 20, app("app", 30))))}
	gen, err := Build(context.Background(), g, BuildOptions{Registry: testRegistry(&closed)})
	if err != nil {
		t.Fatal(err)
	}
	_, body := serve(t, gen.Handler, "GET", "/x")
	if want := "app seen=a,b,c script= path=/x"; body != want {
		t.Errorf("body = %q, want %q", body, want)
	}
	if len(closed) != 0 {
		t.Errorf("closed before Close: %v", closed)
	}
	if err := gen.Close(); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"app:app", "filter:c", "filter:b", "filter:a"}, closed); d != "" {
		t.Errorf("close order (-want +got):\n%s", d)
	}
}

func TestBuildErrorsAllAtOnce(t *testing.T) {
	var closed []string
	g := &paste.Graph{Root: filter("egg:vietstack#mark", "a", 1,
		filter("egg:vietstack#makr", "b", 10,
			filter("egg:vietstack#fails", "c", 20,
				filter("egg:vietstack#panics", "d", 30,
					filter("egg:vietstack#marks", "e", 40,
						filter("egg:oslo.middleware#nosuch", "f", 50,
							filter("oslo_middleware:Mrak.factory", "g", 60, app("app", 70))))))))}
	g.Root.App.App.App.App.App.App.App.Local["colour"] = "red"
	g.Root.App.App.App.App.App.App.App.KeyPos["colour"] = pos(73)
	_, err := Build(context.Background(), g, BuildOptions{Registry: testRegistry(&closed), Logger: discardLogger()})
	if err == nil {
		t.Fatal("no error")
	}
	var got []string
	for _, e := range paste.Flatten(err) {
		got = append(got, e.Error())
	}
	want := []string{
		`t.ini:11: [filter:b] use: no filter factory "egg:vietstack#makr"; did you mean "egg:vietstack#mark"?`,
		`t.ini:22: [filter:c] mark: always fails`,
		`t.ini:30: [filter:d] factory "egg:vietstack#panics" panicked: boom`,
		`t.ini:41: [filter:e] use: factory "egg:vietstack#marks" is a app factory, but this place needs a filter`,
		`t.ini:51: [filter:f] use: no filter factory "egg:oslo.middleware#nosuch" (not one of the built-ins; see --list-factories)`,
		`t.ini:61: [filter:g] use: no filter factory "oslo_middleware:Mrak.factory"; did you mean "oslo_middleware:Mark.factory"?`,
		`t.ini:73: [app:app] colour: unknown option "colour"`,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("errors (-want +got):\n%s", d)
	}
	// What was built before the failure was closed.
	if d := cmp.Diff([]string{"filter:a"}, closed); d != "" {
		t.Errorf("closed (-want +got):\n%s", d)
	}
}

func TestBuildURLMap(t *testing.T) {
	var closed []string
	root := &paste.Node{Type: paste.TypeURLMap, Factory: "egg:Paste#urlmap", Section: "composite:main", Pos: pos(1),
		Routes: []paste.Route{
			{Key: "http://API.example.com/", Domain: "api.example.com", Path: "", Node: app("domain", 100)},
			{Key: "http://admin.example.com:8443/x", Domain: "admin.example.com:8443", Path: "/x", Node: app("domainport", 110)},
			{Key: "/v2.1", Path: "/v2.1", Node: filter("egg:vietstack#mark", "f", 120, app("v21", 130))},
			{Key: "/v2", Path: "/v2", Node: app("v2", 140)},
			{Key: "/", Path: "", Node: app("root", 150)},
		}}
	gen, err := Build(context.Background(), &paste.Graph{Root: root}, BuildOptions{Registry: testRegistry(&closed)})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ host, target, want string }{
		{"localhost", "/", "root seen= script= path=/"},
		{"localhost", "/v2", "v2 seen= script=/v2 path="},
		{"localhost", "/v2/servers", "v2 seen= script=/v2 path=/servers"},
		{"localhost", "/v2x", "root seen= script= path=/v2x"},
		{"localhost", "/v2.1/servers/", "v21 seen=f script=/v2.1 path=/servers/"},
		{"localhost", "//v2.1//servers", "v21 seen=f script=/v2.1 path=/servers"},
		{"API.Example.com", "/v2", "domain seen= script= path=/v2"},
		{"api.example.com:80", "/v2", "domain seen= script= path=/v2"},
		{"api.example.com:8080", "/v2", "domain seen= script= path=/v2"},
		{"example.com", "/v2", "v2 seen= script=/v2 path="},
		{"admin.example.com:8443", "/x/y", "domainport seen= script=/x path=/y"},
		{"admin.example.com", "/x/y", "root seen= script= path=/x/y"},
		{"admin.example.com:443", "/x/y", "root seen= script= path=/x/y"},
		{"localhost", "*", "404"},
	}
	for _, tt := range tests {
		req := httptest.NewRequest("GET", "/", nil)
		req.URL.Path = tt.target
		req.Host = tt.host
		rec := httptest.NewRecorder()
		gen.Handler.ServeHTTP(rec, req)
		if tt.want == "404" && rec.Code == 404 {
			continue
		}
		if rec.Body.String() != tt.want {
			t.Errorf("%s %s: got %q, want %q", tt.host, tt.target, rec.Body.String(), tt.want)
		}
	}
}

func TestURLMapNotFound(t *testing.T) {
	var closed []string
	root := &paste.Node{Type: paste.TypeURLMap, Section: "composite:main", Routes: []paste.Route{{Path: "/v2", Node: app("v2", 1)}}}
	gen, err := Build(context.Background(), &paste.Graph{Root: root}, BuildOptions{Registry: testRegistry(&closed)})
	if err != nil {
		t.Fatal(err)
	}
	code, body := serve(t, gen.Handler, "GET", "/secret/%3Cscript%3E%0d%0a")
	if want := "404 Not Found\r\nThe resource could not be found.\r\n/secret/?script???\r\n\r\n"; code != 404 || body != want {
		t.Errorf("404 = %d %q; want %q (Paste's text page, no markup, no routes)", code, body, want)
	}
	if code, body := serve(t, gen.Handler, "HEAD", "/x"); code != 404 || body != "" {
		t.Errorf("HEAD 404 = %d %q", code, body)
	}
	root.NotFound = app("nf", 5)
	gen, err = Build(context.Background(), &paste.Graph{Root: root}, BuildOptions{Registry: testRegistry(&closed)})
	if err != nil {
		t.Fatal(err)
	}
	if _, body := serve(t, gen.Handler, "GET", "/other"); body != "nf seen= script= path=/other" {
		t.Errorf("not_found_app: %q", body)
	}
}

func TestRegistryLookup(t *testing.T) {
	var closed []string
	r := testRegistry(&closed)
	r.App("hc", func(ctx context.Context, c *Config) (http.Handler, error) { return http.NotFoundHandler(), nil }, Info{})
	r.Filter("hc_filter", func(ctx context.Context, c *Config) (Middleware, error) { return nil, nil }, Info{})
	r.Alias("egg:oslo.middleware#healthcheck", "hc")
	r.Alias("egg:oslo_middleware#healthcheck", "hc_filter")
	tests := []struct {
		in   string
		want []FactoryKind
		name string
	}{
		{"egg:vietstack#mark", nil, "mark"},
		{"egg:VietStack#mark", nil, "mark"},
		{"mark", nil, "mark"},
		{"oslo_middleware:Mark.factory", nil, "mark"},
		{"call:oslo_middleware:Mark.factory", nil, "mark"},
		{"egg:Paste#urlmap", nil, "urlmap"},
		{"egg:paste#urlmap", nil, "urlmap"},
		{"paste.urlmap : urlmap_factory", nil, "urlmap"},
		{"egg:Paste#http", nil, "http"},
		{"egg:oslo.middleware#healthcheck", []FactoryKind{KindApp}, "hc"},
		{"egg:oslo.middleware#healthcheck", []FactoryKind{KindFilter}, "hc_filter"},
		{"egg:other#mark", nil, ""},
	}
	for _, tt := range tests {
		f, ok := r.Lookup(tt.in, tt.want...)
		got := ""
		if ok {
			got = f.Name
		}
		if got != tt.name {
			t.Errorf("Lookup(%q, %v) = %q, want %q", tt.in, tt.want, got, tt.name)
		}
	}
	for _, bad := range []func(){
		func() { r.Filter("mark", nil, Info{}) },
		func() { r.App("", nil, Info{}) },
		func() { r.Alias("x", "nosuch") },
		func() { r.Alias("egg:oslo.middleware#healthcheck", "mark") },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			bad()
		}()
	}
}

func TestBuildServer(t *testing.T) {
	n := &paste.Node{Type: paste.TypeServer, Factory: "egg:Paste#http", Section: "server:main", Pos: pos(1),
		Local:  map[string]string{"host": "0.0.0.0", "port": "9090", "use_threadpool": "true", "read_timeout": "5"},
		KeyPos: map[string]paste.Pos{"use": pos(2), "host": pos(3), "port": pos(4), "use_threadpool": pos(5), "read_timeout": pos(6)}}
	s, err := BuildServer(&paste.Graph{Root: n}, BuildOptions{Registry: NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	if s.Host != "0.0.0.0" || s.Port != 9090 || s.ReadTimeout.Seconds() != 5 || s.MaxHeaderBytes != 64<<10 {
		t.Errorf("settings = %+v", s)
	}
	n.Local["port"] = "eighty"
	_, err = BuildServer(&paste.Graph{Root: n}, BuildOptions{Registry: NewRegistry()})
	if err == nil || err.Error() != `t.ini:4: [server:main] port: invalid integer "eighty"` {
		t.Errorf("err = %v", err)
	}
	d := DefaultServerSettings()
	if d.Host != "127.0.0.1" || d.Port != 8080 || d.ReadHeaderTimeout == 0 || d.ShutdownTimeout == 0 {
		t.Errorf("defaults = %+v", d)
	}
}

func TestGenerationCloseErrors(t *testing.T) {
	g := &Generation{closers: []func() error{func() error { return errors.New("one") }, func() error { return nil }, func() error { return errors.New("two") }}}
	if err := g.Close(); err == nil || err.Error() != "two\none" {
		t.Errorf("Close = %v", err)
	}
	if err := g.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

// A factory called outside a build (tests, programs embedding one factory)
// registers its closers on the Config; Config.Close runs them in reverse
// order. Inside a build they go to the generation instead.
func TestConfigCloseOutsideBuild(t *testing.T) {
	var order []string
	c := &Config{Name: "filter:x"}
	c.OnClose(func() error { order = append(order, "first"); return errors.New("one") })
	c.OnClose(func() error { order = append(order, "second"); return nil })
	if err := c.Close(); err == nil || err.Error() != "one" {
		t.Errorf("Close = %v, want one", err)
	}
	if strings.Join(order, ",") != "second,first" {
		t.Errorf("closers ran in order %v, want second,first", order)
	}
	if err := c.Close(); err != nil || len(order) != 2 {
		t.Errorf("second Close = %v, ran %v", err, order)
	}

	b := &builder{}
	c = &Config{b: b}
	c.OnClose(func() error { return nil })
	if len(b.closers) != 1 || len(c.closers) != 0 {
		t.Errorf("inside a build: builder has %d closers, Config %d; want 1, 0", len(b.closers), len(c.closers))
	}
}
