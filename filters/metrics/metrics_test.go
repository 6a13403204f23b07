package metrics_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/vietstack/vietstack-api/filters/metrics"
	"github.com/vietstack/vietstack-api/pipeline"
	"github.com/vietstack/vietstack-api/pipeline/paste"
)

const gatewayIni = `
[composite:main]
use = egg:Paste#urlmap
/v2 = api
/v3 = api3
/metrics = metrics

[pipeline:api]
pipeline = metrics status

[pipeline:api3]
pipeline = metrics3 status

[filter:metrics]
use = egg:vietstack#metrics
pipeline = compute

[filter:metrics3]
use = egg:vietstack#metrics
max_routes = 1

[app:status]
use = egg:vietstack#status

[app:metrics]
use = egg:vietstack#metrics
`

// status answers with the status code named by the last path segment.
func status(context.Context, *pipeline.Config) (http.Handler, error) {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code := 200
		fmt.Sscanf(r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:], "%d", &code)
		if code == 0 {
			return // writes nothing: counted as 200
		}
		w.WriteHeader(code)
	}), nil
}

func build(t *testing.T, ini string, m *metrics.Registry) http.Handler {
	t.Helper()
	path := filepath.Join(t.TempDir(), "m.ini")
	os.WriteFile(path, []byte(ini), 0o644)
	g, err := paste.Load(path, paste.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg := pipeline.NewRegistry()
	metrics.RegisterWith(reg, m)
	reg.App("status", status, pipeline.Info{})
	gen, err := pipeline.Build(context.Background(), g, pipeline.BuildOptions{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gen.Close() })
	return gen.Handler
}

func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	r := httptest.NewRequest("GET", "/metrics", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 200 {
		t.Fatalf("scrape: %d %s", w.Code, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(w.Body)
	if err != nil {
		t.Fatalf("parse exposition: %v", err)
	}
	return fams
}

func labels(m *dto.Metric) string {
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	return strings.Join(parts, ",")
}

func counts(f *dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	if f == nil {
		return out
	}
	for _, m := range f.GetMetric() {
		switch {
		case m.Counter != nil:
			out[labels(m)] = m.GetCounter().GetValue()
		case m.Histogram != nil:
			out[labels(m)] = float64(m.GetHistogram().GetSampleCount())
		case m.Gauge != nil:
			out[labels(m)] = m.GetGauge().GetValue()
		}
	}
	return out
}

func TestScrape(t *testing.T) {
	m := metrics.NewRegistry()
	h := build(t, gatewayIni, m)
	send := func(method, path string) {
		r := httptest.NewRequest(method, path, nil)
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	for range 3 {
		send("GET", "/v2/servers/200")
	}
	send("POST", "/v2/servers/202")
	send("GET", "/v2/missing/404")
	send("DELETE", "/v2/x/503")
	send("BREW", "/v2/pot/418")
	send("GET", "/v2/empty/0")
	// 1,000 distinct raw paths must not make 1,000 series.
	for i := range 1000 {
		send("GET", fmt.Sprintf("/v2/servers/%d-uuid/200", i))
	}
	send("GET", "/v3/a/200")

	fams := scrape(t, h)
	got := counts(fams["vietstack_http_requests_total"])
	want := map[string]float64{
		"class=2xx,method=GET,pipeline=compute,route=/v2":    1004,
		"class=2xx,method=POST,pipeline=compute,route=/v2":   1,
		"class=4xx,method=GET,pipeline=compute,route=/v2":    1,
		"class=5xx,method=DELETE,pipeline=compute,route=/v2": 1,
		"class=4xx,method=other,pipeline=compute,route=/v2":  1,
		"class=2xx,method=GET,pipeline=metrics3,route=/v3":   1,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("requests_total{%s} = %v, want %v", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d request series, want %d: %v", len(got), len(want), got)
	}
	dur := counts(fams["vietstack_http_request_duration_seconds"])
	if dur["pipeline=compute,route=/v2"] != 1008 {
		t.Errorf("duration samples %v", dur)
	}
	inflight := counts(fams["vietstack_http_requests_in_flight"])
	if v, ok := inflight["pipeline=compute"]; !ok || v != 0 {
		t.Errorf("in flight %v", inflight)
	}
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_open_fds"} {
		if fams[name] == nil {
			t.Errorf("collector metric %s missing", name)
		}
	}
}

func TestRouteLabelBounded(t *testing.T) {
	m := metrics.NewRegistry()
	mw, err := m.Middleware(metrics.Options{Pipeline: "p", MaxRoutes: 2})
	if err != nil {
		t.Fatal(err)
	}
	// A handler that sets many script names (as urlmaps with many
	// prefixes would).
	h := pipeline.Root(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pipeline.RequestFrom(r).ScriptName = r.URL.Path
	})))
	for i := range 50 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", fmt.Sprintf("/r%d", i), nil))
	}
	app := m.Handler(1, 0)
	fams := scrape(t, app)
	got := counts(fams["vietstack_http_requests_total"])
	if len(got) != 3 || got["class=2xx,method=GET,pipeline=p,route=other"] != 48 {
		t.Errorf("series %v, want 2 routes + other(48)", got)
	}
}

func TestRebuildKeepsCounting(t *testing.T) {
	m := metrics.NewRegistry()
	for range 2 { // a reload builds the pipeline again on the same Registry
		h := build(t, gatewayIni, m)
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/v2/a/200", nil))
	}
	h := build(t, gatewayIni, m)
	got := counts(scrape(t, h)["vietstack_http_requests_total"])
	if got["class=2xx,method=GET,pipeline=compute,route=/v2"] != 2 {
		t.Errorf("after rebuilds: %v", got)
	}
}

func TestOptionErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct{ ini, want string }{
		{"[pipeline:main]\npipeline = m app\n[filter:m]\nuse = egg:vietstack#metrics\nmax_routes = 0\n[app:app]\nuse = egg:vietstack#status\n", "max_routes"},
		{"[app:main]\nuse = egg:vietstack#metrics\ntimeout = 0\n", "timeout must be positive"},
		{"[app:main]\nuse = egg:vietstack#metrics\npipeline = x\n", "unknown option"},
	} {
		path := filepath.Join(dir, "e.ini")
		os.WriteFile(path, []byte(tt.ini), 0o644)
		g, err := paste.Load(path, paste.Options{})
		if err != nil {
			t.Fatal(err)
		}
		reg := pipeline.NewRegistry()
		metrics.Register(reg)
		reg.App("status", status, pipeline.Info{})
		_, err = pipeline.Build(context.Background(), g, pipeline.BuildOptions{Registry: reg})
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "e.ini:") {
			t.Errorf("error %v, want a positioned %q", err, tt.want)
		}
	}
}

type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

func TestNoAllocsPerRequest(t *testing.T) {
	m := metrics.NewRegistry()
	mw, err := m.Middleware(metrics.Options{Pipeline: "p", MaxRoutes: 8})
	if err != nil {
		t.Fatal(err)
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	bare, wrapped := pipeline.Root(app), pipeline.Root(mw(app))
	r := httptest.NewRequest("GET", "/x", nil)
	w := &nopWriter{h: http.Header{}}
	wrapped.ServeHTTP(w, r) // resolve the children
	base := testing.AllocsPerRun(1000, func() { bare.ServeHTTP(w, r) })
	with := testing.AllocsPerRun(1000, func() { wrapped.ServeHTTP(w, r) })
	if with != base {
		t.Errorf("metrics filter adds %v allocs per request, want 0", with-base)
	}
}

func BenchmarkMetrics(b *testing.B) {
	m := metrics.NewRegistry()
	mw, _ := m.Middleware(metrics.Options{Pipeline: "p", MaxRoutes: 8})
	h := pipeline.Root(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })))
	r := httptest.NewRequest("GET", "/x", nil)
	w := &nopWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

func TestPanicCountedAndGaugeBalanced(t *testing.T) {
	m := metrics.NewRegistry()
	mw, _ := m.Middleware(metrics.Options{Pipeline: "p", MaxRoutes: 4})
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("boom") }))
	for range 3 {
		func() {
			defer func() { recover() }()
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
		}()
	}
	fams := scrape(t, m.Handler(1, 0))
	if got := counts(fams["vietstack_http_requests_total"]); got["class=5xx,method=GET,pipeline=p,route=/"] != 3 {
		t.Errorf("panics counted %v", got)
	}
	if got := counts(fams["vietstack_http_requests_in_flight"]); got["pipeline=p"] != 0 {
		t.Errorf("in-flight gauge %v after panics, want 0", got)
	}
}

// TestInFlightGauge scrapes while requests are inside two filters with
// different pipeline labels: the gauge counts them per label, keeps the
// name, type and help of the metric, and drops back to 0.
func TestInFlightGauge(t *testing.T) {
	m := metrics.NewRegistry()
	inside := make(chan struct{})
	release := make(chan struct{})
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inside <- struct{}{}
		<-release
	})
	var hs []http.Handler
	for _, p := range []string{"a", "b"} {
		mw, err := m.Middleware(metrics.Options{Pipeline: p, MaxRoutes: 4})
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, pipeline.Root(mw(app)))
	}
	// A second filter with label "a" (a rebuilt pipeline) shares its gauge.
	mw, _ := m.Middleware(metrics.Options{Pipeline: "a", MaxRoutes: 4})
	hs = append(hs, pipeline.Root(mw(app)))
	done := make(chan struct{})
	for _, h := range []http.Handler{hs[0], hs[0], hs[1], hs[2]} {
		go func() {
			defer func() { done <- struct{}{} }()
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
		}()
	}
	for range 4 {
		<-inside
	}
	fams := scrape(t, m.Handler(1, time.Minute))
	f := fams["vietstack_http_requests_in_flight"]
	if f.GetType() != dto.MetricType_GAUGE || f.GetHelp() != "Requests inside the metrics filter now." {
		t.Errorf("in-flight family: type %v help %q", f.GetType(), f.GetHelp())
	}
	if got, want := counts(f), map[string]float64{"pipeline=a": 3, "pipeline=b": 1}; !maps.Equal(got, want) {
		t.Errorf("in flight %v, want %v", got, want)
	}
	close(release)
	for range 4 {
		<-done
	}
	if got, want := counts(scrape(t, m.Handler(1, time.Minute))["vietstack_http_requests_in_flight"]), map[string]float64{"pipeline=a": 0, "pipeline=b": 0}; !maps.Equal(got, want) {
		t.Errorf("in flight after the requests %v, want %v", got, want)
	}
}

// BenchmarkMetricsParallel is BenchmarkMetrics from GOMAXPROCS goroutines:
// the in-flight gauge and the counters are shared by every core.
func BenchmarkMetricsParallel(b *testing.B) {
	m := metrics.NewRegistry()
	mw, _ := m.Middleware(metrics.Options{Pipeline: "p", MaxRoutes: 8})
	h := pipeline.Root(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := httptest.NewRequest("GET", "/x", nil)
		w := &nopWriter{h: http.Header{}}
		for pb.Next() {
			h.ServeHTTP(w, r)
		}
	})
}
