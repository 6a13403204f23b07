package metrics_test

import (
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"

	"github.com/vietstack/vietstack-api/filters/metrics"
)

func names(mfs []*dto.MetricFamily) map[string]bool {
	out := map[string]bool{}
	for _, mf := range mfs {
		out[mf.GetName()] = true
	}
	return out
}

// TestExtraCollectors is how the daemon uses a Registry: collectors of
// its own registered through Prometheus(), then served with the
// requests' vectors and the Go and process collectors, scrape after
// scrape.
func TestExtraCollectors(t *testing.T) {
	m := metrics.NewRegistry()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "vietstack_test_extra", Help: "extra"})
	g.Set(7)
	m.Prometheus().MustRegister(g)
	// The request vectors are registered (checked) by NewRegistry: the
	// same name again is refused.
	dup := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "vietstack", Subsystem: "http", Name: "requests_in_flight", Help: "dup",
	}, []string{"pipeline"})
	if err := m.Prometheus().Register(dup); err == nil {
		t.Error("registering vietstack_http_requests_in_flight twice was accepted")
	}
	mw, err := m.Middleware(metrics.Options{Pipeline: "p", MaxRoutes: 4})
	if err != nil {
		t.Fatal(err)
	}
	_ = mw
	for i := 0; i < 3; i++ {
		mfs, err := m.Prometheus().Gather()
		if err != nil {
			t.Fatalf("gather %d: %v", i, err)
		}
		got := names(mfs)
		for _, n := range []string{"vietstack_test_extra", "vietstack_http_requests_in_flight", "go_goroutines", "go_gc_duration_seconds", "process_open_fds", "process_start_time_seconds"} {
			if !got[n] {
				t.Errorf("gather %d: %s missing", i, n)
			}
		}
	}
	rec := httptest.NewRecorder()
	m.Handler(1, time.Minute).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{"vietstack_test_extra 7\n", "\ngo_goroutines ", "\nprocess_open_fds "} {
		if !strings.Contains(string(body), want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
}

// TestFirstScrapesConcurrent: the Go and process collectors are built by
// the first scrape; scrapes racing to be first all get them (run under
// -race).
func TestFirstScrapesConcurrent(t *testing.T) {
	m := metrics.NewRegistry()
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mfs, err := m.Prometheus().Gather()
			if err != nil {
				errs <- err.Error()
				return
			}
			if got := names(mfs); !got["go_goroutines"] || !got["process_open_fds"] {
				errs <- "go_goroutines or process_open_fds missing"
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestNewRegistryDefersRuntimeCollectors: NewRegistry does not build the
// Go collector (it is built by the first scrape), so it allocates less
// than building that collector alone does.
func TestNewRegistryDefersRuntimeCollectors(t *testing.T) {
	goColl := testing.AllocsPerRun(20, func() { collectors.NewGoCollector() })
	reg := testing.AllocsPerRun(20, func() { metrics.NewRegistry() })
	if reg >= goColl {
		t.Errorf("NewRegistry: %.0f allocations, building the Go collector alone %.0f: it is not deferred", reg, goColl)
	}
}
