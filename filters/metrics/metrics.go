// Package metrics is the Prometheus instrumentation of a pipeline: a
// "metrics" filter that counts and times the requests that pass through
// it, and a "metrics_app" application (also reachable as
// egg:vietstack#metrics in an app section) that serves the exposition
// format. Both use github.com/prometheus/client_golang.
//
// # One registry per process
//
// Pipelines are rebuilt on every reload, so a filter must not own its
// metric vectors: registering them again would fail, and counters would
// restart from zero. Instead [Register] creates one [Registry] — a private
// prometheus.Registry holding the vectors and the Go and process
// collectors — and hands it to both factories it registers. The daemon
// calls Register once with its one pipeline.Registry, so there is one
// metrics registry per process; each rebuilt filter only resolves its
// label children in it. There is no package-level state: tests make their
// own with [NewRegistry] and [RegisterWith].
//
// # Metrics and labels
//
//	vietstack_http_requests_total{pipeline, route, method, class}
//	vietstack_http_request_duration_seconds{pipeline, route}   (histogram)
//	vietstack_http_requests_in_flight{pipeline}
//
// Labels are bounded by construction, never taken from the raw path:
// pipeline is the filter's pipeline option (default: its section name);
// route is the ScriptName the urlmap routed the request to ("/" when
// none), at most max_routes distinct values per filter and "other"
// beyond; method is one of the nine standard methods or "other"; class is
// the status class "1xx" to "5xx". A panic passing through the filter is
// counted as 5xx.
package metrics

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vietstack/vietstack-api/pipeline"
)

// Registry is a process's metrics: a private Prometheus registry with the
// request vectors the filters feed and the Go and process collectors. It
// is safe for concurrent use.
//
// The Go and process collectors are built on the first scrape, not by
// NewRegistry: building the Go collector reads the descriptions of every
// runtime metric (~0.3 ms and ~24 KB), which a daemon that is never
// scraped, or not yet, need not pay at start-up. They are registered as
// one unchecked collector (prometheus.Collector with an empty Describe),
// so registering another collector with the same go_* or process_* names
// is not refused by Register but makes the next scrape fail.
type Registry struct {
	prom     *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inflight *inflightGauges
}

// DurationBuckets are the request-duration histogram buckets, in seconds.
var DurationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// NewRegistry returns a new Registry with its collectors registered.
func NewRegistry() *Registry {
	r := &Registry{
		prom: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "vietstack", Subsystem: "http", Name: "requests_total",
			Help: "Requests answered, by pipeline, routed script name, method and status class.",
		}, []string{"pipeline", "route", "method", "class"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "vietstack", Subsystem: "http", Name: "request_duration_seconds",
			Help:    "Time from the request's arrival in the pipeline (at the metrics filter without a root) until the handler returned.",
			Buckets: DurationBuckets,
		}, []string{"pipeline", "route"}),
		inflight: &inflightGauges{
			desc: prometheus.NewDesc("vietstack_http_requests_in_flight",
				"Requests inside the metrics filter now.", []string{"pipeline"}, nil),
			byPipeline: map[string]*atomic.Int64{},
		},
	}
	r.prom.MustRegister(r.requests, r.duration, r.inflight, newRuntimeCollector())
	return r
}

// runtimeCollector is the Go and process collectors, built on first
// Collect. Its Describe sends nothing, which makes it an unchecked
// collector for prometheus.Registry: registering it builds nothing.
type runtimeCollector struct {
	collectors func() []prometheus.Collector
}

func newRuntimeCollector() *runtimeCollector {
	return &runtimeCollector{collectors: sync.OnceValue(func() []prometheus.Collector {
		return []prometheus.Collector{
			collectors.NewGoCollector(),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		}
	})}
}

// Describe sends nothing: the collector is unchecked.
func (*runtimeCollector) Describe(chan<- *prometheus.Desc) {}

// Collect builds the collectors on the first call and collects them.
func (c *runtimeCollector) Collect(ch chan<- prometheus.Metric) {
	for _, col := range c.collectors() {
		col.Collect(ch)
	}
}

// inflightGauges is vietstack_http_requests_in_flight: a gauge per
// pipeline label, exposed as prometheus.GaugeVec would expose it, but
// kept as an integer so that a request costs one atomic add on entry and
// one on exit (a Gauge's Inc and Dec are compare-and-swap loops on float
// bits, retried when the cores collide).
type inflightGauges struct {
	desc       *prometheus.Desc
	mu         sync.Mutex
	byPipeline map[string]*atomic.Int64
}

// child returns the gauge of a pipeline label, creating it (at 0, exposed
// from then on) on first use.
func (g *inflightGauges) child(label string) *atomic.Int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	c, ok := g.byPipeline[label]
	if !ok {
		c = new(atomic.Int64)
		g.byPipeline[label] = c
	}
	return c
}

// Describe sends the gauge's descriptor.
func (g *inflightGauges) Describe(ch chan<- *prometheus.Desc) { ch <- g.desc }

// Collect sends one gauge per pipeline label.
func (g *inflightGauges) Collect(ch chan<- prometheus.Metric) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for label, c := range g.byPipeline {
		m, err := prometheus.NewConstMetric(g.desc, prometheus.GaugeValue, float64(c.Load()), label)
		if err != nil {
			m = prometheus.NewInvalidMetric(g.desc, err) // a label that is not UTF-8: the scrape reports it
		}
		ch <- m
	}
}

// Prometheus returns the underlying registry, for registering more
// collectors.
func (r *Registry) Prometheus() *prometheus.Registry { return r.prom }

// Handler returns an http.Handler serving r in the Prometheus text (or
// OpenMetrics, when asked for) exposition format, with at most
// maxInFlight concurrent scrapes and a timeout per scrape.
func (r *Registry) Handler(maxInFlight int, timeout time.Duration) http.Handler {
	return promhttp.HandlerFor(r.prom, promhttp.HandlerOpts{
		Registry:            r.prom,
		MaxRequestsInFlight: maxInFlight,
		Timeout:             timeout,
		EnableOpenMetrics:   true,
		ErrorHandling:       promhttp.ContinueOnError,
	})
}

// Register creates the process's Registry and registers both factories
// with it: call it once per pipeline.Registry.
func Register(reg *pipeline.Registry) { RegisterWith(reg, NewRegistry()) }

// RegisterWith registers the "metrics" filter and the "metrics_app"
// application, feeding and serving m, and the aliases that make
// egg:vietstack#metrics name the filter in a filter section and the app in
// an app section.
func RegisterWith(reg *pipeline.Registry, m *Registry) {
	reg.Filter("metrics", m.FilterFactory, pipeline.Info{
		Doc:     "counts and times requests per pipeline, route, method and status class (Prometheus; bounded labels)",
		Options: Options{},
	})
	reg.App("metrics_app", m.AppFactory, pipeline.Info{
		Doc:     "serves the process's Prometheus metrics (requests, Go runtime, process) in the exposition format",
		Options: AppOptions{},
	})
	for _, a := range []string{"egg:vietstack#metrics", "egg:vietstack-api#metrics"} {
		reg.Alias(a, "metrics")
		reg.Alias(a, "metrics_app")
	}
}

// Options are the options of the metrics filter.
type Options struct {
	Pipeline  string `ini:"pipeline" doc:"value of the pipeline label (default: the filter's section name)"`
	MaxRoutes int    `ini:"max_routes" default:"64" doc:"distinct route labels this filter may create; later routes count as \"other\""`
}

// Validate checks the options that need more than parsing.
func (o *Options) Validate() error {
	if o.MaxRoutes < 1 || o.MaxRoutes > 10000 {
		return errors.New("max_routes must be between 1 and 10000")
	}
	return nil
}

// AppOptions are the options of the metrics app.
type AppOptions struct {
	MaxInFlight int           `ini:"max_requests_in_flight" default:"4" doc:"concurrent scrapes; more get 503"`
	Timeout     time.Duration `ini:"timeout" default:"10s" doc:"bound on one scrape; exceeded gives 503"`
}

// Validate checks the options that need more than parsing.
func (o *AppOptions) Validate() error {
	if o.MaxInFlight < 1 {
		return errors.New("max_requests_in_flight must be positive")
	}
	if o.Timeout <= 0 {
		return errors.New("timeout must be positive")
	}
	return nil
}

// AppFactory is the metrics_app AppFactory.
func (m *Registry) AppFactory(ctx context.Context, c *pipeline.Config) (http.Handler, error) {
	var o AppOptions
	if err := c.Decode(&o); err != nil {
		return nil, err
	}
	return m.Handler(o.MaxInFlight, o.Timeout), nil
}

// FilterFactory is the metrics FilterFactory.
func (m *Registry) FilterFactory(ctx context.Context, c *pipeline.Config) (pipeline.Middleware, error) {
	var o Options
	if err := c.Decode(&o); err != nil {
		return nil, err
	}
	if o.Pipeline == "" {
		o.Pipeline = c.Name
		if _, name, ok := strings.Cut(c.Name, ":"); ok {
			o.Pipeline = name
		}
	}
	return m.Middleware(o)
}

// Middleware returns the instrumenting filter for o.
func (m *Registry) Middleware(o Options) (pipeline.Middleware, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	f := &filter{m: m, pipeline: o.Pipeline, maxRoutes: o.MaxRoutes, inflight: m.inflight.child(o.Pipeline)}
	f.other = f.newRoute("other")
	empty := map[string]*route{}
	f.routes.Store(&empty)
	return f.wrap, nil
}

// methods are the method label values; index len(methods) is "other".
var methods = [...]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE", "other"}

var classes = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

func methodIndex(m string) int {
	switch m {
	case "GET":
		return 0
	case "HEAD":
		return 1
	case "POST":
		return 2
	case "PUT":
		return 3
	case "PATCH":
		return 4
	case "DELETE":
		return 5
	case "OPTIONS":
		return 6
	case "CONNECT":
		return 7
	case "TRACE":
		return 8
	}
	return 9
}

// lazyCounter resolves its label child on first use, so only the
// combinations that happen become series.
type lazyCounter struct {
	once sync.Once
	c    prometheus.Counter
}

type route struct {
	name     string
	duration prometheus.Observer
	counts   [len(methods)][len(classes)]lazyCounter
}

type filter struct {
	m         *Registry
	pipeline  string
	maxRoutes int
	inflight  *atomic.Int64
	other     *route
	// routes is copied on write (under mu) and read without locks.
	routes atomic.Pointer[map[string]*route]
	mu     sync.Mutex
}

func (f *filter) newRoute(name string) *route {
	return &route{name: name, duration: f.m.duration.WithLabelValues(f.pipeline, name)}
}

// route returns the label children of the routed script name.
func (f *filter) route(script string) *route {
	if script == "" {
		script = "/"
	}
	if rt, ok := (*f.routes.Load())[script]; ok {
		return rt
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	cur := *f.routes.Load()
	if rt, ok := cur[script]; ok {
		return rt
	}
	if len(cur) >= f.maxRoutes {
		return f.other
	}
	next := make(map[string]*route, len(cur)+1)
	for k, v := range cur {
		next[k] = v
	}
	rt := f.newRoute(script)
	next[script] = rt
	f.routes.Store(&next)
	return rt
}

func (f *filter) wrap(next http.Handler) http.Handler {
	return &metered{f: f, next: next}
}

// metered is the filter in front of one next handler.
type metered struct {
	f    *filter
	next http.Handler
}

// ReadsIdentityHeaders reports what the next handler reports: the filter
// reads no identity header (see pipeline.ReadsIdentityHeaders).
func (m *metered) ReadsIdentityHeaders() bool { return pipeline.ReadsIdentityHeaders(m.next) }

func (m *metered) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f := m.f
	st := pipeline.RequestFrom(r)
	var rec *statusWriter
	if st == nil {
		rec = &statusWriter{ResponseWriter: w}
		w = rec
	}
	f.inflight.Add(1)
	// Behind a root, the duration runs from the root's clock read at
	// the request's arrival to the request's shared end
	// (pipeline.Request.End, read once for this filter and an access
	// log further out): no clock read of its own (~140 ns each on a
	// kvm-clock VM).
	var start time.Time
	if st == nil {
		start = time.Now()
	}
	returned := false
	defer func() {
		// Deferred so that a panic passing through (answered 500 by
		// an outer fault filter or the root) is counted too.
		f.inflight.Add(-1)
		status := http.StatusInternalServerError
		if returned {
			if st != nil {
				status = st.Status()
			} else {
				status = rec.status
			}
			if status == 0 {
				status = http.StatusOK // nothing written: net/http sends 200
			}
		}
		if st != nil {
			f.observe(st.ScriptName, r.Method, status, st.End().Sub(st.Start))
		} else {
			f.observe("", r.Method, status, time.Since(start))
		}
	}()
	m.next.ServeHTTP(w, r)
	returned = true
}

func (f *filter) observe(script, method string, status int, d time.Duration) {
	cls := status/100 - 1
	if cls < 0 || cls >= len(classes) {
		cls = len(classes) - 1
	}
	rt := f.route(script)
	rt.duration.Observe(d.Seconds())
	mi := methodIndex(method)
	lc := &rt.counts[mi][cls]
	lc.once.Do(func() {
		lc.c = f.m.requests.WithLabelValues(f.pipeline, rt.name, methods[mi], classes[cls])
	})
	lc.c.Inc()
}

// statusWriter records the status for requests that did not come through
// a pipeline root (direct use in tests).
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
