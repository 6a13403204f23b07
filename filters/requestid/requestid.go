// Package requestid is the request_id filter, the Go counterpart of
// oslo.middleware's RequestId: every request gets a fresh local id
// "req-<uuid4>", stored in the pipeline's request state and returned in the
// X-Openstack-Request-Id response header; a well-formed inbound id is kept
// as the global request id (cross-service correlation) and never replaces
// the local one.
package requestid

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strings"

	"github.com/vietstack/vietstack-api/pipeline"
)

// HeaderName is the canonical name of the request id header, in requests
// (the inbound global id) and responses (the local id).
const HeaderName = "X-Openstack-Request-Id"

// ComputeHeaderName is nova's compatibility header, added by the
// compute_req_id spelling of the filter.
const ComputeHeaderName = "X-Compute-Request-Id"

// Options are the options of the request_id filter. oslo's RequestId has
// none; compat_headers is the class attribute its subclasses (nova's
// ComputeReqIdMiddleware) set, made an option here.
type Options struct {
	CompatHeaders []string `ini:"compat_headers" doc:"extra response headers that carry the same id (nova: x-compute-request-id)"`

	_ struct{} `ini:"oslo_config_project,ignore" doc:"oslo.config project; request_id reads no oslo options"`
	_ struct{} `ini:"oslo_config_file,ignore" doc:"oslo.config file; request_id reads no oslo options"`
	_ struct{} `ini:"oslo_config_program,ignore" doc:"oslo.config program name; ignored"`
}

// ComputeOptions are the options of the compute_req_id filter: request_id
// with nova's x-compute-request-id compatibility header by default.
type ComputeOptions struct {
	CompatHeaders []string `ini:"compat_headers" default:"x-compute-request-id" doc:"extra response headers that carry the same id"`

	_ struct{} `ini:"oslo_config_project,ignore" doc:"oslo.config project; ignored"`
	_ struct{} `ini:"oslo_config_file,ignore" doc:"oslo.config file; ignored"`
	_ struct{} `ini:"oslo_config_program,ignore" doc:"oslo.config program name; ignored"`
}

// Register registers the request_id and compute_req_id filters in reg,
// with every Python spelling of oslo's RequestId (and its legacy
// oslo-incubator and project copies) as aliases.
func Register(reg *pipeline.Registry) {
	reg.Filter("request_id", New, pipeline.Info{
		Doc:     "oslo RequestId: a fresh req-<uuid4> per request in X-Openstack-Request-Id; a valid inbound id becomes the global request id",
		Options: Options{},
	})
	for _, a := range []string{
		"egg:oslo.middleware#request_id",
		"oslo_middleware:RequestId.factory",
		"oslo_middleware.request_id:RequestId.factory",
		"cinder.api.middleware.request_id:RequestId.factory",
		"cinder.openstack.common.middleware.request_id:RequestIdMiddleware.factory",
		"neutron.openstack.common.middleware.request_id:RequestIdMiddleware.factory",
		"nova.openstack.common.middleware.request_id:RequestIdMiddleware.factory",
	} {
		reg.Alias(a, "request_id")
	}
	reg.Filter("compute_req_id", NewCompute, pipeline.Info{
		Doc:     "nova's ComputeReqIdMiddleware: request_id that also sets X-Compute-Request-Id",
		Options: ComputeOptions{},
	})
	reg.Alias("nova.api.compute_req_id:ComputeReqIdMiddleware.factory", "compute_req_id")
}

// New is the request_id FilterFactory.
func New(ctx context.Context, c *pipeline.Config) (pipeline.Middleware, error) {
	var o Options
	if err := c.Decode(&o); err != nil {
		return nil, err
	}
	return build(c, o.CompatHeaders)
}

// NewCompute is the compute_req_id FilterFactory.
func NewCompute(ctx context.Context, c *pipeline.Config) (pipeline.Middleware, error) {
	var o ComputeOptions
	if err := c.Decode(&o); err != nil {
		return nil, err
	}
	return build(c, o.CompatHeaders)
}

func build(c *pipeline.Config, compat []string) (pipeline.Middleware, error) {
	headers := []string{HeaderName}
	for _, h := range compat {
		if !validHeaderName(h) {
			return nil, c.Errorf("compat_headers", "%q is not a valid header name", h)
		}
		k := http.CanonicalHeaderKey(h)
		dup := false
		for _, e := range headers {
			dup = dup || e == k
		}
		if !dup {
			headers = append(headers, k)
		}
	}
	return Middleware(headers[1:]...), nil
}

// Middleware returns the request_id middleware. compat are extra response
// headers (canonical form) that carry the same id.
//
// Per request it generates the local id and stores it in
// pipeline.RequestFrom(r).RequestID (when the request passed through a
// pipeline root), together with a valid inbound X-Openstack-Request-Id as
// GlobalRequestID. When the response header is written, each id header is
// added unless the handler below already set that header, as oslo adds it
// only to a response that lacks it; this holds whether the handler used
// Header().Set or Header().Add (a proxy copying a backend's answer adds).
//
// Behind a pipeline root, with no writer wrapper further out, the headers
// are added by a pipeline.HeaderHook and the id's header value lives in
// the request state, so a request costs one allocation (the id). Otherwise
// the writer it passes down is a small wrapper that also stores the
// header value (two allocations); it unwraps for http.ResponseController
// and implements http.Flusher.
func Middleware(compat ...string) pipeline.Middleware {
	compat = append([]string(nil), compat...)
	return func(next http.Handler) http.Handler {
		return &filter{compat: compat, next: next}
	}
}

type filter struct {
	compat []string
	next   http.Handler
}

func (f *filter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := NewID()
	st := pipeline.RequestFrom(r)
	if st != nil {
		st.RequestID = id
		if v := r.Header[HeaderName]; len(v) == 1 && ValidID(v[0]) {
			st.GlobalRequestID = v[0]
		} else {
			st.GlobalRequestID = ""
		}
		if hook := st.AddHeaderHook(w, f, id); hook >= 0 {
			f.next.ServeHTTP(w, r)
			st.EndHeaderHook(hook)
			return
		}
	}
	iw := &idWriter{ResponseWriter: w, compat: f.compat}
	iw.val[0] = id
	f.next.ServeHTTP(iw, r)
	if !iw.done {
		iw.addHeaders() // nothing written: the server answers 200 with this map
	}
}

// BeforeHeader adds the id headers the response lacks, all sharing one
// value stored in the request state (pipeline.HeaderHook).
func (f *filter) BeforeHeader(s *pipeline.Request, h http.Header, id string) {
	var v []string
	if _, set := h[HeaderName]; !set {
		v = s.HeaderValue(id)
		h[HeaderName] = v
	}
	for _, k := range f.compat {
		if _, set := h[k]; !set {
			if v == nil {
				v = s.HeaderValue(id)
			}
			h[k] = v
		}
	}
}

// idWriter adds the request id headers to the response when its header is
// written.
type idWriter struct {
	http.ResponseWriter
	compat []string
	val    [1]string // the id; h[k] = val[:] has capacity 1, so an Add reallocates
	done   bool
}

func (iw *idWriter) addHeaders() {
	iw.done = true
	h := iw.ResponseWriter.Header()
	if _, set := h[HeaderName]; !set {
		h[HeaderName] = iw.val[:]
	}
	for _, k := range iw.compat {
		if _, set := h[k]; !set {
			h[k] = iw.val[:]
		}
	}
}

// WriteHeader adds the id headers (for a final status), then writes it.
func (iw *idWriter) WriteHeader(code int) {
	if !iw.done && code >= 200 {
		iw.addHeaders()
	}
	iw.ResponseWriter.WriteHeader(code)
}

// Write adds the id headers if the header was not written yet.
func (iw *idWriter) Write(p []byte) (int, error) {
	if !iw.done {
		iw.addHeaders()
	}
	return iw.ResponseWriter.Write(p)
}

// Flush adds the id headers if needed, then flushes.
func (iw *idWriter) Flush() {
	if !iw.done {
		iw.addHeaders()
	}
	http.NewResponseController(iw.ResponseWriter).Flush()
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (iw *idWriter) Unwrap() http.ResponseWriter { return iw.ResponseWriter }

// ValidID reports whether s is exactly "req-" followed by a UUID in
// canonical lower-case 8-4-4-4-12 hex form, the only inbound form oslo
// accepts as a global request id.
func ValidID(s string) bool {
	if len(s) != 40 || !strings.HasPrefix(s, "req-") {
		return false
	}
	for i := 4; i < 40; i++ {
		c := s[i]
		switch i {
		case 12, 17, 22, 27:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// NewID returns a fresh local request id, "req-" and a random (version 4)
// UUID in canonical lower-case form. It costs one allocation (the string)
// and no system call: the bits come from math/rand/v2's top-level
// generator, the runtime's per-thread ChaCha8, seeded from the operating
// system's entropy and never shared between threads.
func NewID() string {
	hi, lo := rand.Uint64(), rand.Uint64()
	var u [16]byte
	for i := range 8 {
		u[i] = byte(hi >> (56 - 8*i))
		u[8+i] = byte(lo >> (56 - 8*i))
	}
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	const hexdig = "0123456789abcdef"
	var b [40]byte
	copy(b[:], "req-")
	j := 4
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[j] = '-'
			j++
		}
		b[j], b[j+1] = hexdig[c>>4], hexdig[c&0xf]
		j += 2
	}
	return string(b[:])
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}
