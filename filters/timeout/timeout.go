// Package timeout is the per-request deadline filter: it gives the
// request's context a deadline, so that everything downstream that honours
// its context (the proxy app's backend round trip, auth lookups) gives up
// when it passes, and answers 503 with a JSON fault when the deadline
// passed before any response was started.
//
// The handler runs in the request's own goroutine, so streaming, Flush and
// Hijack work as without the filter; the cost is that the 503 is written
// when the handler returns. A handler that ignores its context therefore
// keeps the request until it is done; one that already started its
// response keeps it (the client sees a cut stream if it stops).
package timeout

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/vietstack/vietstack-api/pipeline"
)

// Options are the options of the timeout filter.
type Options struct {
	Timeout time.Duration `ini:"timeout" doc:"deadline for the rest of the pipeline, from when the request reaches this filter (required; seconds or a Go duration)"`
}

// Validate checks the options that need more than parsing.
func (o *Options) Validate() error {
	if o.Timeout <= 0 {
		return errors.New("timeout must be positive")
	}
	return nil
}

// ErrTimeout is the cause of the context cancellation this filter makes
// (context.Cause gives it downstream).
var ErrTimeout = errors.New("request deadline of the timeout filter exceeded")

// Register registers the timeout filter factory in reg under the name
// "timeout" (use = egg:vietstack#timeout).
func Register(reg *pipeline.Registry) {
	reg.Filter("timeout", Factory, pipeline.Info{
		Doc:     "per-request deadline on the context; 503 JSON fault when it passes before the response started",
		Options: Options{},
	})
}

// Factory is the timeout FilterFactory.
func Factory(ctx context.Context, c *pipeline.Config) (pipeline.Middleware, error) {
	var o Options
	if err := c.Decode(&o); err != nil {
		return nil, err
	}
	return New(o.Timeout), nil
}

var (
	faultBody = []byte(`{"error": {"code": 503, "title": "Service Unavailable", "message": "The request took too long to process."}}` + "\n")
	faultLen  = strconv.Itoa(len(faultBody))
)

// New returns the middleware giving each request d to complete.
func New(d time.Duration) pipeline.Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeoutCause(r.Context(), d, ErrTimeout)
			defer cancel()
			st := pipeline.RequestFrom(r)
			var rec *startedWriter
			if st == nil {
				rec = &startedWriter{ResponseWriter: w}
				w = rec
			}
			next.ServeHTTP(w, r.WithContext(ctx))
			if !errors.Is(context.Cause(ctx), ErrTimeout) || r.Context().Err() != nil {
				return // in time, or the client itself went away
			}
			if st != nil && st.Status() != 0 || rec != nil && rec.started {
				return
			}
			h := w.Header()
			h["Content-Type"] = []string{"application/json"}
			h["Content-Length"] = []string{faultLen}
			h["X-Content-Type-Options"] = []string{"nosniff"}
			h["Cache-Control"] = []string{"no-store"}
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write(faultBody)
		})
	}
}

// startedWriter records whether a response began, for requests that did
// not come through a pipeline root.
type startedWriter struct {
	http.ResponseWriter
	started bool
}

func (w *startedWriter) WriteHeader(code int) {
	if code >= 200 {
		w.started = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *startedWriter) Write(b []byte) (int, error) {
	w.started = true
	return w.ResponseWriter.Write(b)
}

func (w *startedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
