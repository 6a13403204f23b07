// Package faults provides the filters that turn a failure below them into
// a clean 500 answer:
//
//   - "catch_errors", oslo.middleware's CatchErrors: the answer is WebOb's
//     HTTPInternalServerError page, byte for byte, chosen by Accept (plain
//     text by default, HTML for text/html or */*, JSON for
//     application/json; HEAD gets the HTML content type and no body);
//   - "faultwrap", nova's FaultWrapper style: the answer is an OpenStack
//     JSON fault, {"computeFault": {"code": 500, "title": "Internal Server
//     Error", "message": "...", "request_id": "req-..."}}.
//
// In Go a failure below is a panic. The panic value and the stack never
// reach the client; they are logged once, at ERROR, with the request
// (method, path, request id, client address and headers, credentials
// masked by package redact). A panic with http.ErrAbortHandler is the
// standard way to abort a response and is re-panicked untouched, without
// logging. Behind a pipeline root the status is only committed with the
// first body byte (pipeline.Request.Committed), so a panic between
// WriteHeader and the body still becomes a 500. A panic after the response
// was committed cannot become a 500 any more: it is logged and the connection is aborted (re-panic with
// http.ErrAbortHandler), so the client sees a truncated answer rather than
// one that looks complete. A status the application writes itself (a 5xx
// included) is its answer and passes unchanged.
//
// When the 500 is written, the response headers set below the filter (by
// the failed application) are removed and those set by filters further out
// (a request id, CORS) are kept, as with WSGI, where the failed answer's
// headers never reach the server. (If more than eight headers were already
// set when the request reached the filter, only a fixed list describing the
// failed answer is removed: Content-*, ETag, Location, Set-Cookie, ...)
package faults

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"

	"github.com/vietstack/vietstack-api/filters/faults/accept"
	"github.com/vietstack/vietstack-api/filters/faults/redact"
	"github.com/vietstack/vietstack-api/pipeline"
)

// CatchErrorsOptions are the options of catch_errors: oslo's CatchErrors
// takes none; the oslo.config keys are accepted and ignored.
type CatchErrorsOptions struct {
	_ struct{} `ini:"oslo_config_project,ignore" doc:"accepted for oslo compatibility; no effect"`
	_ struct{} `ini:"oslo_config_file,ignore" doc:"accepted for oslo compatibility; no effect"`
	_ struct{} `ini:"oslo_config_program,ignore" doc:"accepted for oslo compatibility; no effect"`
}

// FaultWrapOptions are the options of faultwrap.
type FaultWrapOptions struct {
	// FaultName is the key of the fault object in the JSON body.
	FaultName string `ini:"fault_name" default:"computeFault" doc:"the key of the JSON fault object (nova and cinder use computeFault)"`
}

// Validate checks the options.
func (o *FaultWrapOptions) Validate() error {
	if o.FaultName == "" {
		return errors.New("fault_name: must not be empty")
	}
	return nil
}

// Register registers "catch_errors" (with its oslo spellings as aliases)
// and "faultwrap" in reg.
func Register(reg *pipeline.Registry) {
	reg.Filter("catch_errors", CatchErrorsFactory, pipeline.Info{
		Doc:     "oslo CatchErrors: a panic below becomes WebOb's 500 page (by Accept), logged once with the stack and credentials masked",
		Options: CatchErrorsOptions{},
	})
	for _, a := range []string{
		"oslo_middleware:CatchErrors.factory",
		"oslo_middleware.catch_errors:CatchErrors.factory",
		"egg:oslo.middleware#catch_errors",
		"neutron.openstack.common.middleware.catch_errors:CatchErrorsMiddleware.factory",
	} {
		reg.Alias(a, "catch_errors")
	}
	reg.Filter("faultwrap", FaultWrapFactory, pipeline.Info{
		Doc:     "nova-style fault wrapper: a panic below becomes a 500 JSON fault with the request id, logged once with the stack and credentials masked",
		Options: FaultWrapOptions{},
	})
}

// CatchErrorsFactory is the FilterFactory of catch_errors.
func CatchErrorsFactory(ctx context.Context, c *pipeline.Config) (pipeline.Middleware, error) {
	var o CatchErrorsOptions
	if err := c.Decode(&o); err != nil {
		return nil, err
	}
	return CatchErrors(c.Logger), nil
}

// FaultWrapFactory is the FilterFactory of faultwrap.
func FaultWrapFactory(ctx context.Context, c *pipeline.Config) (pipeline.Middleware, error) {
	var o FaultWrapOptions
	if err := c.Decode(&o); err != nil {
		return nil, err
	}
	return FaultWrap(c.Logger, o.FaultName), nil
}

// CatchErrors returns the catch_errors middleware; it logs to logger
// (slog.Default() when nil).
func CatchErrors(logger *slog.Logger) pipeline.Middleware {
	return (&catcher{logger: logger, write: writeWebOb}).wrap
}

// FaultWrap returns the faultwrap middleware, whose JSON fault object is
// named faultName; it logs to logger (slog.Default() when nil).
func FaultWrap(logger *slog.Logger, faultName string) pipeline.Middleware {
	key, _ := json.Marshal(faultName)
	c := &catcher{logger: logger}
	c.write = func(w http.ResponseWriter, r *http.Request, requestID string) {
		writeFault(w, r, key, requestID)
	}
	return c.wrap
}

type catcher struct {
	logger *slog.Logger
	write  func(w http.ResponseWriter, r *http.Request, requestID string)
}

func (c *catcher) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := pipeline.RequestFrom(r)
		var tw *pipeline.StatusRecorder
		if st == nil {
			// Not behind a generation root (a handler used on its own):
			// track the status here, since nothing else does.
			tw = &pipeline.StatusRecorder{ResponseWriter: w}
			w = tw
		}
		// Remember which response headers the filters further out set,
		// so that a 500 keeps those and drops what the failed answer set.
		var before headerSet
		before.record(w.Header())
		defer func() {
			if v := recover(); v != nil {
				// Behind a root the status is held back until the body
				// starts, so a panic after WriteHeader but before the first
				// byte can still become a 500.
				started := tw != nil && tw.Status != 0 || st != nil && !st.ResetResponse()
				c.recovered(w, r, st, v, started, &before)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// recovered handles the panic value v of a request.
func (c *catcher) recovered(w http.ResponseWriter, r *http.Request, st *pipeline.Request, v any, started bool, before *headerSet) {
	if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
		panic(v)
	}
	requestID, remote := "", r.RemoteAddr
	if st != nil {
		requestID, remote = st.RequestID, st.RemoteAddr
	}
	logger := c.logger
	if logger == nil {
		logger = slog.Default()
	}
	msg := "panic serving request; answered 500"
	if started {
		msg = "panic serving request after the response started; connection aborted"
	}
	logger.LogAttrs(r.Context(), slog.LevelError, msg,
		slog.String("request_id", requestID),
		slog.String("method", redact.Cap(r.Method, 32)),
		slog.String("path", redact.Cap(r.URL.Path, 1024)),
		slog.String("remote_addr", redact.Cap(remote, 128)),
		slog.String("panic", redact.Cap(fmt.Sprint(v), 4096)),
		slog.String("stack", redact.Cap(string(debug.Stack()), 64<<10)),
		slog.Attr{Key: "headers", Value: slog.GroupValue(redact.HeaderAttrs(r.Header)...)},
	)
	if started {
		panic(http.ErrAbortHandler)
	}
	before.restore(w.Header())
	c.write(w, r, requestID)
}

// headerSet remembers up to len(names) response header names without
// allocating.
type headerSet struct {
	names [8]string
	n     int
}

func (s *headerSet) record(h http.Header) {
	for k := range h {
		if s.n < len(s.names) {
			s.names[s.n] = k
		}
		s.n++
	}
}

func (s *headerSet) has(k string) bool {
	for _, n := range s.names[:min(s.n, len(s.names))] {
		if n == k {
			return true
		}
	}
	return false
}

// restore removes from h every header that was not there when recorded;
// when more names were present than it could remember, it removes the
// staleHeaders instead.
func (s *headerSet) restore(h http.Header) {
	if s.n > len(s.names) {
		for _, k := range staleHeaders {
			delete(h, k)
		}
		return
	}
	for k := range h {
		if !s.has(k) {
			delete(h, k)
		}
	}
}

// staleHeaders described the answer that failed; they are dropped before
// the 500 is written when the header set was too large to remember.
var staleHeaders = []string{
	"Content-Type", "Content-Length", "Content-Encoding", "Content-Language",
	"Content-Range", "Content-Disposition", "Content-Location", "Etag",
	"Last-Modified", "Location", "Set-Cookie", "Cache-Control", "Trailer",
	"Transfer-Encoding", "Expires", "Accept-Ranges", "Retry-After",
}

// WebOb's HTTPInternalServerError page (WebOb 1.8), by media type.
const (
	webobStatus      = "500 Internal Server Error"
	webobExplanation = "The server has either erred or is incapable of performing the requested operation."
	webobPlain       = webobStatus + "\n\n" + webobExplanation + "\n\n   "
	webobHTML        = "<html>\n <head>\n  <title>" + webobStatus + "</title>\n </head>\n <body>\n  <h1>" +
		webobStatus + "</h1>\n  " + webobExplanation + "<br /><br />\n\n\n\n </body>\n</html>"
	webobJSON = `{"message": "` + webobExplanation + `<br /><br />\n\n\n", "code": "` + webobStatus +
		`", "title": "Internal Server Error"}`
)

var webobOffers = []string{"text/html", "application/json"}

// writeWebOb writes WebOb's 500 page as oslo's CatchErrors answers it.
func writeWebOb(w http.ResponseWriter, r *http.Request, _ string) {
	h := w.Header()
	if r.Method == http.MethodHead {
		h.Set("Content-Type", "text/html; charset=UTF-8")
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	ctype, body := "text/plain; charset=UTF-8", webobPlain
	switch m, _ := accept.Negotiate(r.Header.Get("Accept"), webobOffers); m {
	case "text/html":
		ctype, body = "text/html; charset=UTF-8", webobHTML
	case "application/json":
		ctype, body = "application/json", webobJSON
	}
	h.Set("Content-Type", ctype)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusInternalServerError)
	io.WriteString(w, body)
}

// FaultMessage is the message of faultwrap's 500 fault.
const FaultMessage = "Unexpected API Error. Please report it to the cloud operator, quoting the request id."

// writeFault writes the nova-style JSON fault; key is the JSON-encoded
// fault name.
func writeFault(w http.ResponseWriter, r *http.Request, key []byte, requestID string) {
	body := make([]byte, 0, 192)
	body = append(body, '{')
	body = append(body, key...)
	body = append(body, `: {"code": 500, "title": "Internal Server Error", "message": `...)
	body = strconv.AppendQuote(body, FaultMessage)
	if requestID != "" {
		id, _ := json.Marshal(requestID)
		body = append(body, `, "request_id": `...)
		body = append(body, id...)
	}
	body = append(body, "}}"...)
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=UTF-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusInternalServerError)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}
