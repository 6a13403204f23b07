// Package maintenance is the maintenance-mode filter: while a flag file
// exists, every request gets 503 Service Unavailable with a Retry-After
// header and a JSON fault instead of reaching the rest of the pipeline.
// Operators create the file to drain an API and remove it to reopen, with
// no reload.
//
// The file is checked cheaply: at most once per check_interval (one stat
// by whichever request comes first after the interval), the others read
// the cached answer with two atomic loads.
package maintenance

import (
	"context"
	"errors"
	"math"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/vietstack/vietstack-api/pipeline"
)

// Options are the options of the maintenance filter.
type Options struct {
	FlagFile      string        `ini:"flag_file" doc:"path whose existence turns maintenance mode on (required)"`
	RetryAfter    time.Duration `ini:"retry_after" default:"60s" doc:"Retry-After sent with the 503 (whole seconds, at least 1)"`
	CheckInterval time.Duration `ini:"check_interval" default:"1s" doc:"how often the flag file is looked at"`
}

// Validate checks the options that need more than parsing.
func (o *Options) Validate() error {
	if o.FlagFile == "" {
		return errors.New("flag_file is required")
	}
	if o.CheckInterval <= 0 {
		return errors.New("check_interval must be positive")
	}
	return nil
}

// Register registers the maintenance filter factory in reg under the name
// "maintenance" (use = egg:vietstack#maintenance).
func Register(reg *pipeline.Registry) {
	reg.Filter("maintenance", Factory, pipeline.Info{
		Doc:     "503 with Retry-After while a flag file exists (checked at most once per check_interval)",
		Options: Options{},
	})
}

// Factory is the maintenance FilterFactory.
func Factory(ctx context.Context, c *pipeline.Config) (pipeline.Middleware, error) {
	var o Options
	if err := c.Decode(&o); err != nil {
		return nil, err
	}
	f, err := New(o)
	if err != nil {
		return nil, c.Errorf("", "%v", err)
	}
	return f.Middleware, nil
}

// Filter is one maintenance filter's state. It is safe for concurrent use.
type Filter struct {
	path     string
	interval int64 // nanoseconds
	next     atomic.Int64
	on       atomic.Bool
	now      func() time.Time
	body     []byte
	bodyLen  string
	retry    string
}

// New returns the filter for validated options; the flag file is first
// checked by the first request.
func New(o Options) (*Filter, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	secs := int64(math.Ceil(o.RetryAfter.Seconds()))
	if secs < 1 {
		secs = 1
	}
	f := &Filter{path: o.FlagFile, interval: int64(o.CheckInterval), now: time.Now, retry: strconv.FormatInt(secs, 10)}
	f.body = []byte(`{"error": {"code": 503, "title": "Service Unavailable", "message": "The service is down for maintenance; retry after ` +
		f.retry + ` seconds."}}` + "\n")
	f.bodyLen = strconv.Itoa(len(f.body))
	f.next.Store(math.MinInt64)
	return f, nil
}

// Active reports whether maintenance mode is on, looking at the flag file
// when the last look is older than the check interval.
func (f *Filter) Active() bool {
	now := f.now().UnixNano()
	next := f.next.Load()
	if now >= next && f.next.CompareAndSwap(next, now+f.interval) {
		_, err := os.Stat(f.path)
		f.on.Store(err == nil)
	}
	return f.on.Load()
}

// Middleware is the filter.
func (f *Filter) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !f.Active() {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h["Retry-After"] = []string{f.retry}
		h["Content-Type"] = []string{"application/json"}
		h["Content-Length"] = []string{f.bodyLen}
		h["X-Content-Type-Options"] = []string{"nosniff"}
		h["Cache-Control"] = []string{"no-store"}
		w.WriteHeader(http.StatusServiceUnavailable)
		if r.Method != http.MethodHead {
			_, _ = w.Write(f.body)
		}
	})
}
