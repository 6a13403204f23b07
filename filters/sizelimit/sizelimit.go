// Package sizelimit is the sizelimit filter, the Go counterpart of
// oslo.middleware's RequestBodySizeLimiter: request bodies larger than
// max_request_body_size are refused with 413 Request Entity Too Large.
//
// A declared Content-Length over the limit is refused before anything
// below runs and before a single body byte is read, so a client that sent
// "Expect: 100-continue" never gets "100 Continue". A body without a
// declared length (chunked) is cut at the limit: the reader below gets at
// most the limit, then a *TooLargeError, and the answer becomes the 413
// page whatever the application tried to answer, as long as it had not
// started its response.
package sizelimit

import (
	"context"
	"errors"
	"fmt"
	"github.com/vietstack/vietstack-api/filters/osloconf"
	"io"
	"net/http"
	"strconv"

	"github.com/vietstack/vietstack-api/pipeline"
)

// DefaultLimit is oslo's default max_request_body_size: 112 KiB.
const DefaultLimit = 114688

// Options are the options of the sizelimit filter. max_request_body_size
// is read, as oslo does, from the section (or the global conf), else from
// the [oslo_middleware] group (or the legacy [DEFAULT]
// osapi_max_request_body_size / max_request_body_size) of the oslo.config
// file named by oslo_config_project / oslo_config_file.
type Options struct {
	MaxRequestBodySize pipeline.ByteSize `ini:"max_request_body_size" default:"114688" doc:"largest request body accepted, in bytes (units such as KiB allowed); larger ones get 413"`

	OsloConfigProject string `ini:"oslo_config_project" doc:"oslo.config project whose config file supplies [oslo_middleware] options"`
	OsloConfigFile    string `ini:"oslo_config_file" doc:"the oslo.config file to read instead of the project's standard ones"`
	OsloConfigProgram string `ini:"oslo_config_program" doc:"oslo.config program name (an extra PROGRAM.conf is searched)"`
}

// Register registers the sizelimit filter in reg with every Python
// spelling of oslo's RequestBodySizeLimiter and its legacy copies.
func Register(reg *pipeline.Registry) {
	reg.Filter("sizelimit", New, pipeline.Info{
		Doc:     "oslo RequestBodySizeLimiter: 413 for request bodies over max_request_body_size, chunked ones included",
		Options: Options{},
	})
	for _, a := range []string{
		"egg:oslo.middleware#sizelimit",
		"oslo_middleware:RequestBodySizeLimiter.factory",
		"oslo_middleware.sizelimit:RequestBodySizeLimiter.factory",
		"cinder.api.middleware.sizelimit:RequestBodySizeLimiter.factory",
		"keystone.middleware:RequestBodySizeLimiter.factory",
		"nova.api.sizelimit:RequestBodySizeLimiter.factory",
	} {
		reg.Alias(a, "sizelimit")
	}
}

// New is the sizelimit FilterFactory.
func New(ctx context.Context, c *pipeline.Config) (pipeline.Middleware, error) {
	oslo, err := osloconf.Load(c)
	if err != nil {
		return nil, err
	}
	var o Options
	err = osloconf.Decode(c, &o, func(key string) (string, string, bool, error) {
		if key != "max_request_body_size" {
			return "", "", false, nil
		}
		if v, where, ok, err := oslo.Get("oslo_middleware", key); ok {
			return v, where, true, err
		}
		if v, where, ok, err := oslo.Get("DEFAULT", "osapi_max_request_body_size"); ok {
			return v, where, true, err
		}
		return oslo.Get("DEFAULT", key)
	})
	if err != nil {
		return nil, err
	}
	if o.MaxRequestBodySize < 0 {
		return nil, c.Errorf("max_request_body_size", "must not be negative, got %d", o.MaxRequestBodySize)
	}
	return Middleware(int64(o.MaxRequestBodySize)), nil
}

// TooLargeError is the error a limited request body returns once more
// than Limit bytes were read. It unwraps to *http.MaxBytesError, and it is
// an http.Handler that writes the 413 page, so an application can answer
// a failed body read with it (as a WebOb application lets the exception
// through); the filter answers it anyway if the application did not
// start its response.
type TooLargeError struct {
	http.MaxBytesError
}

// Error describes the error with oslo's message.
func (e *TooLargeError) Error() string {
	return "Request is too large. Larger than " + strconv.FormatInt(e.Limit, 10) + "."
}

// Unwrap returns the embedded *http.MaxBytesError.
func (e *TooLargeError) Unwrap() error { return &e.MaxBytesError }

// ServeHTTP writes the 413 page, formatted for the request's Accept.
func (e *TooLargeError) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Connection", "close")
	writeErrorPage(w, r, http.StatusRequestEntityTooLarge, e.Error())
}

// Middleware returns the sizelimit middleware for a limit of limit bytes
// (a body of exactly limit bytes is accepted). Requests whose declared
// body fits pass through untouched, with no allocation.
func Middleware(limit int64) pipeline.Middleware {
	declaredMsg := fmt.Sprintf("Request is too large. Larger than max_request_body_size (%d).", limit)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > limit {
				w.Header().Set("Connection", "close")
				writeErrorPage(w, r, http.StatusRequestEntityTooLarge, declaredMsg)
				return
			}
			if r.ContentLength >= 0 || r.Body == nil || r.Body == http.NoBody {
				next.ServeHTTP(w, r)
				return
			}
			g := &guard{w: w, r: r, body: r.Body, left: limit, limit: limit, saved: w.Header().Clone()}
			r.Body = g
			next.ServeHTTP(g, r)
			r.Body = g.body
			if !g.decided && g.err != nil {
				g.replace()
			}
		})
	}
}

// guard limits a body of unknown length and, once the limit was hit,
// turns the answer into the 413 page. It is both the request body the
// handler below reads and the response writer it writes to.
type guard struct {
	w       http.ResponseWriter
	r       *http.Request
	body    io.ReadCloser
	left    int64
	limit   int64
	err     *TooLargeError // set once the limit was exceeded
	saved   http.Header    // the header map as it was before next ran
	decided bool           // the response status was chosen
	dropped bool           // the handler's answer is being discarded
}

// Read reads at most the limit in total; reading past it returns a
// *TooLargeError (and keeps returning it) without giving out the excess.
func (g *guard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if int64(len(p)) > g.left+1 {
		p = p[:g.left+1]
	}
	n, err := g.body.Read(p)
	if int64(n) <= g.left {
		g.left -= int64(n)
		return n, err
	}
	n = int(g.left)
	g.left = 0
	g.err = &TooLargeError{http.MaxBytesError{Limit: g.limit}}
	return n, g.err
}

// Close closes the underlying body.
func (g *guard) Close() error { return g.body.Close() }

// Header returns the response header map.
func (g *guard) Header() http.Header { return g.w.Header() }

// WriteHeader forwards the status, unless the body limit was exceeded
// before the response started: then the 413 page is written instead.
func (g *guard) WriteHeader(code int) {
	if g.dropped {
		return
	}
	if code < 200 || g.decided {
		g.w.WriteHeader(code)
		return
	}
	g.decided = true
	if g.err != nil {
		g.replace()
		return
	}
	g.w.WriteHeader(code)
}

// Write forwards body bytes, or discards them when the answer was
// replaced by the 413 page.
func (g *guard) Write(p []byte) (int, error) {
	if !g.decided {
		g.WriteHeader(http.StatusOK)
	}
	if g.dropped {
		return len(p), nil
	}
	return g.w.Write(p)
}

// Flush starts the response (like Write) and flushes it.
func (g *guard) Flush() {
	if !g.decided {
		g.WriteHeader(http.StatusOK)
	}
	if !g.dropped {
		http.NewResponseController(g.w).Flush()
	}
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (g *guard) Unwrap() http.ResponseWriter { return g.w }

// replace discards what the handler put in the header map, restores what
// outer filters had set and writes the 413 page.
func (g *guard) replace() {
	g.decided, g.dropped = true, true
	h := g.w.Header()
	for k := range h {
		if _, ok := g.saved[k]; !ok {
			delete(h, k)
		}
	}
	for k, v := range g.saved {
		h[k] = v
	}
	g.err.ServeHTTP(g.w, g.r)
}

// IsTooLarge reports whether err (from reading a request body) means the
// body was over a sizelimit filter's limit.
func IsTooLarge(err error) bool {
	var e *TooLargeError
	return errors.As(err, &e)
}
