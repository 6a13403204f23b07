package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// Request is the per-request state shared by every filter and the app of a
// pipeline, the Go counterpart of a WSGI environ's extra keys. The root
// handler of a generation attaches exactly one Request to each request (in
// one allocation with its response writer and the request copy the
// pipeline sees; the allocation is also the request's context), so
// filters never need their own context values, and filters that add
// response headers need no writer wrapper (AddHeaderHook).
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

	// end is the cached result of End (zero before the first call).
	end time.Time

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

// End returns the time the request's handling ended, for filters that
// time the request (metrics, access logs) once their next handler has
// returned or panicked. The clock is read on the first call of a request
// and every later call returns that same time, so the filters of one
// pipeline share one clock read: each sees the end as the innermost
// caller saw it, which is earlier than its own next handler's return by
// the few hundred nanoseconds the filters in between take.
//
// End reads only the monotonic clock: it is Start plus the monotonic time
// elapsed since Start, so End().Sub(Start) is the elapsed time even when
// the wall clock is stepped meanwhile, and End's wall-clock reading is
// Start's plus that elapsed time (not a fresh wall-clock reading). With a
// zero Start (a Request not made by a root) it returns time.Now().
//
// Call it only after the handler below has returned: an earlier call
// fixes the end for every filter further out.
func (s *Request) End() time.Time {
	if s.end.IsZero() {
		if s.Start.IsZero() {
			s.end = time.Now()
		} else {
			s.end = s.Start.Add(time.Since(s.Start))
		}
	}
	return s.end
}

// Status returns the response status the handlers chose so far (0 before
// any WriteHeader or Write), whether or not it has reached the wire yet.
func (s *Request) Status() int { return s.w.status }

// Committed reports whether the response status has been sent on to the
// server, after which it can no longer change. The status is held back
// from WriteHeader until the first body byte, a Flush, or the end of the
// request, as a WSGI server holds start_response until the body starts.
func (s *Request) Committed() bool { return s.w.committed }

// ResetResponse forgets a status that was chosen but not yet committed, so
// that an error handler can answer instead of a failed handler. It reports
// false (and changes nothing) once the response is committed. Response
// headers are left alone: the caller decides which to keep.
func (s *Request) ResetResponse() bool {
	if s.w.committed {
		return false
	}
	s.w.status = 0
	return true
}

// BytesWritten returns the number of response body bytes written so far.
func (s *Request) BytesWritten() int64 { return s.w.bytes }

// A HeaderHook adds response headers just before the response's final
// status goes out, the job a writer wrapper's WriteHeader does, without
// the wrapper (see Request.AddHeaderHook).
type HeaderHook interface {
	// BeforeHeader is called at most once per request with the request
	// state, the response header map and the arg the hook was added with.
	BeforeHeader(s *Request, h http.Header, arg string)
}

// hookSlot is an added hook; hook is nil once it ran.
type hookSlot struct {
	hook HeaderHook
	arg  string
}

// AddHeaderHook arranges for hook.BeforeHeader(s, header, arg) to run
// exactly where a writer wrapper installed by the caller on w would add
// its headers: when, after it was added, a final (>= 200) WriteHeader, a
// Write, a ReadFrom or a Flush first reaches the root's writer, or, when
// none did by then, at the caller's EndHeaderHook. Hooks run innermost
// first: the one added last runs first, as the innermost wrapper sees
// the status first. A hook does not run when a panic reaches the root
// (the root's 500 carries only its own headers, as it bypasses every
// wrapper).
//
// It reports -1 and arranges nothing when hook is nil or w is not the
// root's writer (a filter further out wrapped it): that wrapper would
// see the status before the root does, so the caller must wrap w itself
// to keep the order. Otherwise it returns the id to pass to
// EndHeaderHook after the caller's next handler returns. It allocates
// nothing for the first two hooks of a request.
func (s *Request) AddHeaderHook(w http.ResponseWriter, hook HeaderHook, arg string) int {
	if rw, ok := w.(*ResponseWriter); !ok || rw != s.w || hook == nil {
		return -1
	}
	if s.w.hooks == nil {
		s.w.hooks = s.w.hookBuf[:0]
	}
	s.w.hooks = append(s.w.hooks, hookSlot{hook: hook, arg: arg})
	s.w.pending++
	return len(s.w.hooks) - 1
}

// EndHeaderHook runs, innermost first, hook id and every hook added after
// it that has not run yet. A filter calls it when its next handler
// returns, where its writer wrapper would have added its headers to a
// response nothing was written to (net/http then answers 200 with the
// header map as it is). An id of -1 is ignored.
func (s *Request) EndHeaderHook(id int) {
	if id >= 0 && s.w.pending > 0 {
		s.w.runHooks(id)
	}
}

// valueSlots is the number of header values HeaderValue stores in the
// request state before it allocates.
const valueSlots = 5

// HeaderValue returns the one-element header value []string{v}, stored
// in the request state for the first few calls of a request (no
// allocation). Its capacity is 1, so an Add to the header reallocates
// instead of overwriting the state; the caller must not modify the
// element in place.
func (s *Request) HeaderValue(v string) []string {
	w := s.w
	if w.nvals < len(w.vals) {
		i := w.nvals
		w.nvals++
		w.vals[i] = v
		return w.vals[i : i+1 : i+1]
	}
	return []string{v}
}

// ResponseWriter is the single writer wrapper a root installs: it records
// the status and the body size, and holds the status back until the body
// starts (see Request.Committed). Informational (1xx) statuses pass
// straight through. Flush commits and flushes; Unwrap gives the server's
// writer, so http.ResponseController (Hijack, deadlines) works through it.
type ResponseWriter struct {
	http.ResponseWriter
	status    int
	bytes     int64
	committed bool
	// closeConn makes commit answer "Connection: close" (see Root).
	closeConn bool

	req     *Request
	hooks   []hookSlot // see Request.AddHeaderHook
	pending int        // hooks that have not run
	hookBuf [2]hookSlot
	vals    [valueSlots]string // see Request.HeaderValue
	nvals   int
}

// runHooks runs the pending hooks from index from on, the last added
// first.
func (w *ResponseWriter) runHooks(from int) {
	h := w.ResponseWriter.Header()
	for i := len(w.hooks) - 1; i >= from; i-- {
		if sl := &w.hooks[i]; sl.hook != nil {
			hook := sl.hook
			sl.hook = nil
			w.pending--
			hook.BeforeHeader(w.req, h, sl.arg)
		}
	}
}

// WriteHeader records the status; it is sent with the first body byte, a
// Flush, or when the request ends. Later calls are ignored, as net/http
// ignores a superfluous WriteHeader.
func (w *ResponseWriter) WriteHeader(code int) {
	if code < 200 {
		if !w.committed {
			w.ResponseWriter.WriteHeader(code)
		}
		return
	}
	if w.pending > 0 {
		w.runHooks(0)
	}
	if w.status == 0 {
		w.status = code
	}
}

func (w *ResponseWriter) commit() {
	if w.committed {
		return
	}
	w.committed = true
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.closeConn {
		w.ResponseWriter.Header()["Connection"] = []string{"close"}
	}
	w.ResponseWriter.WriteHeader(w.status)
}

// Write commits the status and forwards the body bytes.
func (w *ResponseWriter) Write(p []byte) (int, error) {
	if w.pending > 0 {
		w.runHooks(0)
	}
	if !w.committed {
		w.commit()
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// ReadFrom commits the status and copies from src, using the server's
// zero-copy path (sendfile) when it has one.
func (w *ResponseWriter) ReadFrom(src io.Reader) (int64, error) {
	if w.pending > 0 {
		w.runHooks(0)
	}
	if !w.committed {
		w.commit()
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(writerOnly{w.ResponseWriter}, src)
	}
	w.bytes += n
	return n, err
}

type writerOnly struct{ io.Writer }

// FlushError commits the status and flushes buffered data to the client.
func (w *ResponseWriter) FlushError() error {
	if w.pending > 0 {
		w.runHooks(0)
	}
	if !w.committed {
		w.commit()
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Flush is FlushError without the error, for http.Flusher.
func (w *ResponseWriter) Flush() { _ = w.FlushError() }

// Unwrap returns the wrapped writer (for http.ResponseController).
func (w *ResponseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// state bundles the Request, its writer, the context the root gives the
// request and the request copy carrying that context in one allocation:
// it is a context.Context whose Value answers RequestFrom's key and asks
// the server's context for any other.
type state struct {
	context.Context // the server's request context
	req             Request
	w               ResponseWriter
	r               http.Request // the request the pipeline sees
}

// Value returns the Request for RequestFrom's key, else the server
// context's value for key.
func (st *state) Value(key any) any {
	if _, ok := key.(ctxKey); ok {
		return &st.req
	}
	return st.Context.Value(key)
}

// Root returns the handler every generation puts in front of its top-level
// app: it drops request headers whose name contains "_" (see
// dropUnderscoreHeaders), attaches the Request state and the recording
// writer, commits a status still held back when the app returns, and
// answers 500 for a panic nothing below handled (logged once with
// slog.Default, without request headers). A panic after the response was
// committed aborts the connection; http.ErrAbortHandler passes through
// untouched.
//
// Root also closes the connection after the response to a request whose
// framing a front proxy may have read differently (request smuggling), by
// answering "Connection: close" (set when the status is committed, after
// every filter had its say, so no filter removes it by accident):
//
//   - an HTTP/1.x request with a chunked body. net/http deletes a
//     Content-Length sent next to Transfer-Encoding: chunked before any
//     handler runs, and RFC 9112 §6.1 requires closing the connection
//     after such a request; as the two cannot be told apart here, every
//     chunked upload costs its client a reconnect;
//   - an HTTP/1.0 request of any method but GET and HEAD. net/http ignores
//     and deletes Transfer-Encoding on HTTP/1.0 (Go issue 12785) and frames
//     the body by Content-Length alone (none: no body), so chunk bytes
//     behind such a request would otherwise be parsed as the next request;
//     RFC 9112 §6.1 asks to treat HTTP/1.0 with Transfer-Encoding as faulty
//     framing and close. As the header is gone, every HTTP/1.0 request that
//     may carry a body closes; keep-alive HTTP/1.0 GET and HEAD (ab -k) stay.
//
// Plain requests (any GET, HTTP/1.1 with Content-Length, HTTP/2) keep
// their connection and cost no extra allocation.
func Root(next http.Handler) http.Handler { return &root{next: next} }

type root struct {
	next http.Handler
	log  *slog.Logger
}

func (h *root) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	st := &state{Context: r.Context()}
	st.w.ResponseWriter = w
	st.w.req = &st.req
	st.req.w = &st.w
	st.req.Start = time.Now()
	st.req.RemoteAddr = r.RemoteAddr
	st.req.Scheme = "http"
	st.w.closeConn = suspectFraming(r)
	if r.TLS != nil {
		st.req.Scheme = "https"
	}
	if r.URL != nil {
		st.req.url = *r.URL
	}
	dropUnderscoreHeaders(r.Header)
	// The copy WithContext makes does not escape (it is inlined and copied
	// at once), so the request the pipeline sees lives in the state: one
	// allocation per request instead of two.
	st.r = *r.WithContext(st)
	r2 := &st.r
	r2.URL = &st.req.url
	defer h.finish(st, r2)
	h.next.ServeHTTP(&st.w, r2)
}

// dropUnderscoreHeaders deletes request headers whose name contains "_".
// A WSGI server maps both X-Roles and X_Roles to HTTP_X_ROLES, so a client
// could smuggle an identity header past a filter that strips only the
// dashed spelling; like nginx and Apache, the daemon drops such names
// before any filter sees them.
func dropUnderscoreHeaders(h http.Header) {
	for k := range h {
		if strings.IndexByte(k, '_') >= 0 {
			delete(h, k)
		}
	}
}

// suspectFraming reports whether the connection must close after r's
// response (see Root).
func suspectFraming(r *http.Request) bool {
	if r.ProtoMajor != 1 {
		return false
	}
	for _, te := range r.TransferEncoding {
		if te == "chunked" {
			return true
		}
	}
	if r.ProtoMinor != 0 {
		return false
	}
	return r.Method != http.MethodGet && r.Method != http.MethodHead
}

func (h *root) finish(st *state, r *http.Request) {
	p := recover()
	if p == nil {
		if st.w.pending > 0 {
			st.w.runHooks(0) // a filter that added a hook did not end it
		}
		if !st.w.committed {
			if st.w.status != 0 {
				st.w.commit()
			} else if st.w.closeConn {
				// Nothing was written: net/http answers 200 itself,
				// with the headers as they are now.
				st.w.ResponseWriter.Header()["Connection"] = []string{"close"}
			}
		}
		return
	}
	if err, ok := p.(error); ok && errors.Is(err, http.ErrAbortHandler) {
		panic(p)
	}
	log := h.log
	if log == nil {
		log = slog.Default()
	}
	committed := st.w.committed
	msg := "panic serving request; answered 500"
	if committed {
		msg = "panic serving request after the response started; connection aborted"
	}
	path := r.URL.Path
	if len(path) > 1024 {
		path = path[:1024]
	}
	log.LogAttrs(r.Context(), slog.LevelError, msg,
		slog.String("method", r.Method), slog.String("path", strconv.QuoteToASCII(path)),
		slog.String("request_id", st.req.RequestID),
		slog.String("panic", fmt.Sprint(p)), slog.String("stack", string(debug.Stack())))
	if committed {
		panic(http.ErrAbortHandler)
	}
	st.w.pending = 0 // the 500 bypasses every filter's hook, as it bypasses wrappers
	hd := st.w.Header()
	clear(hd)
	hd["Content-Type"] = []string{"application/json"}
	hd["X-Content-Type-Options"] = []string{"nosniff"}
	if st.req.RequestID != "" {
		hd["X-Openstack-Request-Id"] = []string{st.req.RequestID}
	}
	st.w.status = 0
	st.w.WriteHeader(http.StatusInternalServerError)
	_, _ = st.w.Write(internalErrorBody)
}

var internalErrorBody = []byte(`{"error": {"code": 500, "title": "Internal Server Error", "message": "The server has either erred or is incapable of performing the requested operation."}}` + "\n")

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

// An IdentityHeaderReader is a handler that can tell whether it, or any
// handler it passes requests on to, reads the identity request headers an
// auth filter writes for an authenticated caller (X-Identity-Status:
// Confirmed, X-User-Id, X-Project-Id, X-Roles, the X-Service-* headers of
// a service token, ... : everything identity.Set writes). Handlers that
// take the caller from Request.Identity, or do not care who it is,
// implement it; a filter reports what its next handler reports.
type IdentityHeaderReader interface {
	ReadsIdentityHeaders() bool
}

// ReadsIdentityHeaders reports whether h may read the identity headers of
// an authenticated caller: true unless h implements IdentityHeaderReader
// and reports false. Auth filters ask it of their next handler once, when
// they are composed; when it is false they record the caller in
// Request.Identity only and write no identity header that nothing after
// them would read (client-sent ones are still stripped). Any handler that
// does not say counts as a reader, so a proxy to a backend, an echo, or a
// handler written elsewhere always gets the headers.
func ReadsIdentityHeaders(h http.Handler) bool {
	if r, ok := h.(IdentityHeaderReader); ok {
		return r.ReadsIdentityHeaders()
	}
	return true
}

// StatusRecorder records the status and body size of a response as it
// passes, without holding anything back. Filters that read the status
// from the Request state use it only when they run without a generation
// root in front (a handler composed by hand, in a test or another
// program), where there is no state to read.
type StatusRecorder struct {
	http.ResponseWriter
	Status int   // the first final status written, 0 before
	Bytes  int64 // body bytes written
}

// WriteHeader records a final status and forwards it.
func (t *StatusRecorder) WriteHeader(code int) {
	if t.Status == 0 && code >= 200 {
		t.Status = code
	}
	t.ResponseWriter.WriteHeader(code)
}

// Write records the size (and an implicit 200) and forwards the bytes.
func (t *StatusRecorder) Write(p []byte) (int, error) {
	if t.Status == 0 {
		t.Status = http.StatusOK
	}
	n, err := t.ResponseWriter.Write(p)
	t.Bytes += int64(n)
	return n, err
}

// Unwrap gives http.ResponseController the underlying writer.
func (t *StatusRecorder) Unwrap() http.ResponseWriter { return t.ResponseWriter }
