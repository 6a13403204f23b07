package pipeline

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Request is the per-request state shared by every filter and the app of a
// pipeline, the Go counterpart of a WSGI environ's extra keys. The root
// handler of a generation attaches exactly one Request to each request (one
// context value, one allocation with its response writer), so filters never
// need their own context values or writer wrappers.
//
// A Request belongs to one request and must only be used by the goroutine
// serving it (or goroutines it waits for).
type Request struct {
	// Start is when the root handler saw the request.
	Start time.Time
	// ScriptName is the part of the URL path consumed by urlmap routing
	// (WSGI SCRIPT_NAME); the request's URL.Path is the rest (PATH_INFO).
	ScriptName string
	// RequestID is this request's id ("req-<uuid4>") once a request-id
	// filter set it; GlobalRequestID is a validated inbound id.
	RequestID       string
	GlobalRequestID string
	// RemoteAddr is the client address as derived by trusted proxy-header
	// parsing; it starts as the connection's peer address.
	RemoteAddr string
	// Scheme is "http" or "https" as seen by the client (after trusted
	// proxy-header parsing).
	Scheme string

	// Identity is the authenticated caller once an auth filter (auth_token,
	// noauth, keystonecontext) established it; nil before that.
	Identity *Identity

	// w is the response writer the root created.
	w *ResponseWriter
	// url is the request's private URL copy, so routing can rewrite the
	// path without touching the server's request.
	url url.URL
}

type ctxKey struct{}

// RequestFrom returns the state of r, or nil when r did not pass through a
// generation root (a handler called directly in a test, for example).
func RequestFrom(r *http.Request) *Request {
	s, _ := r.Context().Value(ctxKey{}).(*Request)
	return s
}

// Status returns the response status written so far (0 before the header
// is written).
func (s *Request) Status() int { return s.w.status }

// BytesWritten returns the number of response body bytes written so far.
func (s *Request) BytesWritten() int64 { return s.w.bytes }

// ResponseWriter is the single writer wrapper a root installs: it records
// the status and the body size. Unwrap gives the server's writer, so
// http.ResponseController (Flush, Hijack, deadlines) works through it.
type ResponseWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

// WriteHeader records the status and forwards it.
func (w *ResponseWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records the size and forwards the body bytes.
func (w *ResponseWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// Unwrap returns the wrapped writer (for http.ResponseController).
func (w *ResponseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// state bundles the Request and its writer in one allocation.
type state struct {
	req Request
	w   ResponseWriter
}

// Root returns the handler every generation puts in front of its
// top-level app: it attaches the Request state and the recording writer.
func Root(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := &state{}
		st.w.ResponseWriter = w
		st.req.w = &st.w
		st.req.Start = time.Now()
		st.req.RemoteAddr = r.RemoteAddr
		st.req.Scheme = "http"
		if r.TLS != nil {
			st.req.Scheme = "https"
		}
		if r.URL != nil {
			st.req.url = *r.URL
		}
		r2 := r.WithContext(context.WithValue(r.Context(), ctxKey{}, &st.req))
		r2.URL = &st.req.url
		next.ServeHTTP(&st.w, r2)
	})
}

// Identity is who a request acts as, as established by an auth filter from
// a validated token (never from client-sent headers).
type Identity struct {
	UserID, UserName             string
	UserDomainID, UserDomainName string
	ProjectID, ProjectName       string
	ProjectDomainID              string
	ProjectDomainName            string
	Roles                        []string
	IsAdminProject               bool
	// AuthToken is the validated token; it must never be logged.
	AuthToken string
}
