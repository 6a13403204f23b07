// Package echo provides the "echo" application: it answers every request
// with 200 and a JSON description of the request as the application sees
// it after every filter in front of it has run. It is the terminal app of
// the differential tests (its answer is the contract of
// ../shared/tools/oslo-diff/README.md, "The echo contract") and a handy
// debugging app for operators: put it at the end of a pipeline to see what
// the filters did to a request.
//
// echo reports request headers verbatim, credentials such as X-Auth-Token
// included: do not expose it where that matters.
//
// Body read errors: echo reads the whole body before answering. When the
// read fails with an error that is also an http.Handler (the Go form of a
// WebOb HTTPException raised by a filter's body reader, such as a size
// limit hit on a chunked body), that handler answers the request, as a
// WebOb application answers the exception. An *http.MaxBytesError, or a
// body longer than max_body_size, gets 413; any other read error 400.
package echo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/vietstack/vietstack-api/pipeline"
)

// Options configure the echo app.
type Options struct {
	// Name is reported as "name" in every answer, so that the apps of a
	// urlmap can be told apart.
	Name string `ini:"name" default:"echo" doc:"reported as \"name\" in every answer"`
	// MaxBodySize bounds the request body echo reads (and hashes); a
	// longer body gets 413.
	MaxBodySize pipeline.ByteSize `ini:"max_body_size" default:"16MiB" doc:"longest request body read and hashed; a longer one gets 413"`
}

// Validate checks the options.
func (o *Options) Validate() error {
	if o.MaxBodySize <= 0 {
		return errors.New("max_body_size: must be positive")
	}
	return nil
}

// Factory is the "echo" AppFactory.
func Factory(_ context.Context, c *pipeline.Config) (http.Handler, error) {
	var o Options
	if err := c.Decode(&o); err != nil {
		return nil, err
	}
	return New(o)
}

// Register registers "echo" in reg.
func Register(reg *pipeline.Registry) {
	reg.App("echo", Factory, pipeline.Info{
		Doc:     "answers 200 JSON describing the request it received (debugging, differential tests)",
		Options: Options{},
	})
}

// New returns the echo app for o. A zero MaxBodySize means the default,
// 16 MiB.
func New(o Options) (http.Handler, error) {
	if o.MaxBodySize == 0 {
		o.MaxBodySize = 16 << 20
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return &app{name: o.Name, max: int64(o.MaxBodySize)}, nil
}

type app struct {
	name string
	max  int64
}

// Doc is the JSON object echo answers (see the package comment). Nullable
// fields are pointers.
type Doc struct {
	App             string            `json:"app"`
	Name            string            `json:"name"`
	Method          string            `json:"method"`
	ScriptName      string            `json:"script_name"`
	PathInfo        string            `json:"path_info"`
	QueryString     string            `json:"query_string"`
	URLScheme       string            `json:"url_scheme"`
	Host            *string           `json:"host"`
	RemoteAddr      string            `json:"remote_addr"`
	ApplicationURL  string            `json:"application_url"`
	ContentType     *string           `json:"content_type"`
	ContentLength   *string           `json:"content_length"`
	BodyLength      int64             `json:"body_length"`
	BodySHA256      string            `json:"body_sha256"`
	Headers         map[string]string `json:"headers"`
	RequestID       *string           `json:"request_id"`
	GlobalRequestID *string           `json:"global_request_id"`
}

// skipped are the request headers echo never reports: Host,
// Content-Type and Content-Length have fields of their own, the rest are
// hop-by-hop or framing headers.
var skipped = map[string]bool{
	"host": true, "content-type": true, "content-length": true,
	"connection": true, "keep-alive": true, "proxy-connection": true, "te": true,
	"trailer": true, "transfer-encoding": true, "upgrade": true, "expect": true,
}

func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n, sum, ok := ReadBody(w, r, a.max)
	if !ok {
		return
	}
	st := pipeline.RequestFrom(r)
	d := Doc{
		App:         "echo",
		Name:        a.name,
		Method:      r.Method,
		PathInfo:    Text(r.URL.Path),
		QueryString: Text(r.URL.RawQuery),
		URLScheme:   "http",
		RemoteAddr:  remoteAddr(r, st),
		BodyLength:  n,
		BodySHA256:  hex.EncodeToString(sum),
		Headers:     headers(r.Header),
	}
	if r.TLS != nil {
		d.URLScheme = "https"
	}
	if st != nil {
		d.ScriptName = Text(st.ScriptName)
		d.URLScheme = st.Scheme
		d.RequestID = nonEmpty(st.RequestID)
		d.GlobalRequestID = nonEmpty(st.GlobalRequestID)
	}
	if r.Host != "" {
		h := Text(r.Host)
		d.Host = &h
	}
	d.ApplicationURL = applicationURL(r, d.URLScheme, d.ScriptName)
	d.ContentType = nonEmpty(r.Header.Get("Content-Type"))
	d.ContentLength = nonEmpty(r.Header.Get("Content-Length"))

	body, err := json.MarshalIndent(&d, "", " ")
	if err != nil { // cannot happen: every field marshals
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	body = append(body, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// ReadBody reads r's body to its end, at most max bytes, and returns its
// length and SHA-256. It reports false after answering w when the read
// failed or the body is longer than max, with the rules of the package
// comment. The text app uses it too.
func ReadBody(w http.ResponseWriter, r *http.Request, max int64) (n int64, sum []byte, ok bool) {
	h := sha256.New()
	if r.Body == nil || r.Body == http.NoBody {
		return 0, h.Sum(nil), true
	}
	buf := copyBufs.Get().(*[]byte)
	n, err := io.CopyBuffer(h, io.LimitReader(r.Body, max+1), *buf)
	copyBufs.Put(buf)
	if err != nil {
		readError(w, r, err)
		return n, nil, false
	}
	if n > max {
		http.Error(w, "Request body too large", http.StatusRequestEntityTooLarge)
		return n, nil, false
	}
	return n, h.Sum(nil), true
}

// copyBufs holds ReadBody's copy buffers, so that a request does not
// allocate one (io.Copy would: a hash takes no ReaderFrom).
var copyBufs = sync.Pool{New: func() any {
	b := make([]byte, 32<<10)
	return &b
}}

// DiscardBody reads r's body to its end, at most max bytes, and drops it;
// it answers w and reports false exactly as ReadBody does. A request
// without a body (http.NoBody, as the server gives a GET) costs nothing,
// and a body is read through io.Discard's pooled buffer: the text app's
// hot path allocates nothing here.
func DiscardBody(w http.ResponseWriter, r *http.Request, max int64) (n int64, ok bool) {
	if r.Body == nil || r.Body == http.NoBody {
		return 0, true
	}
	n, err := io.Copy(io.Discard, io.LimitReader(r.Body, max+1))
	if err != nil {
		readError(w, r, err)
		return n, false
	}
	if n > max {
		http.Error(w, "Request body too large", http.StatusRequestEntityTooLarge)
		return n, false
	}
	return n, true
}

// readError answers a failed body read (see the package comment).
func readError(w http.ResponseWriter, r *http.Request, err error) {
	var h http.Handler
	if errors.As(err, &h) {
		h.ServeHTTP(w, r)
		return
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		http.Error(w, "Request body too large", http.StatusRequestEntityTooLarge)
		return
	}
	http.Error(w, "Could not read the request body", http.StatusBadRequest)
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// remoteAddr is the client address: the one trusted proxy-header parsing
// derived, verbatim, or else the peer's IP without its port.
func remoteAddr(r *http.Request, st *pipeline.Request) string {
	addr := r.RemoteAddr
	if st != nil {
		if st.RemoteAddr != r.RemoteAddr {
			return st.RemoteAddr
		}
		addr = st.RemoteAddr
	}
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// applicationURL is WebOb's Request.application_url: scheme, host (split
// at its first ':', the port dropped when it is the scheme's default) and
// script name. Without a Host header the server's own address is used.
func applicationURL(r *http.Request, scheme, scriptName string) string {
	var name, port string
	if r.Host != "" {
		var ok bool
		name, port, ok = strings.Cut(Text(r.Host), ":")
		if !ok {
			port = ""
		}
	} else if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		name, port, _ = net.SplitHostPort(la.String())
	}
	if scheme == "http" && port == "80" || scheme == "https" && port == "443" {
		port = ""
	}
	u := scheme + "://" + name
	if port != "" {
		u += ":" + port
	}
	return u + scriptName
}

// headers gives the request headers in the CGI view: names lower-cased
// with "_" written as "-", repeated values joined with "," and trimmed,
// framing and hop-by-hop headers left out.
func headers(h http.Header) map[string]string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		name := strings.ReplaceAll(strings.ToLower(k), "_", "-")
		if skipped[name] {
			continue
		}
		vs := h[k]
		parts := make([]string, len(vs))
		for i, v := range vs {
			parts[i] = Text(strings.TrimSpace(v))
		}
		v := strings.Join(parts, ",")
		if prev, ok := out[name]; ok {
			v = prev + "," + v
		}
		out[name] = v
	}
	return out
}

// Text returns s as UTF-8 text, each maximal invalid byte sequence
// replaced by U+FFFD, as Python's bytes.decode("utf-8", "replace") does.
func Text(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r != utf8.RuneError || n > 1 {
			b.WriteString(s[i : i+n])
			i += n
			continue
		}
		i += invalidLen(s[i:])
		b.WriteRune(utf8.RuneError)
	}
	return b.String()
}

// invalidLen is the length of the maximal subpart of an ill-formed UTF-8
// sequence at the start of s (Unicode §3.9, "U+FFFD substitution of
// maximal subparts"): a valid lead byte and as many valid continuation
// bytes as follow it, else one byte.
func invalidLen(s string) int {
	c := s[0]
	need, lo, hi := 0, byte(0x80), byte(0xBF)
	switch {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c == 0xED:
		need, hi = 2, 0x9F
	case c >= 0xE1 && c <= 0xEF:
		need = 2
	case c == 0xF0:
		need, lo = 3, 0x90
	case c == 0xF4:
		need, hi = 3, 0x8F
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	default:
		return 1
	}
	n := 1
	for k := 0; k < need && n < len(s); k++ {
		if s[n] < lo || s[n] > hi {
			break
		}
		lo, hi = 0x80, 0xBF
		n++
	}
	return n
}
