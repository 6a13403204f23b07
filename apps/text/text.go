// Package text provides the "text" application: a fixed answer (status,
// content type, extra headers and body) taken from its options. It serves
// static documents such as a version list, and it is one of the terminal
// apps of the differential tests (../shared/tools/oslo-diff/README.md).
//
// text reads and discards the request body first (bounded by
// max_body_size), so that a filter's body-read error is answered exactly as
// the echo app answers it.
package text

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/vietstack/vietstack-api/apps/echo"
	"github.com/vietstack/vietstack-api/pipeline"
)

// Options configure the text app.
type Options struct {
	Body        string            `ini:"body" doc:"the response body (UTF-8); none is sent for HEAD"`
	Status      string            `ini:"status" default:"200 OK" doc:"status line: a three-digit code >= 200 and an optional reason"`
	ContentType string            `ini:"content_type" default:"text/plain; charset=UTF-8" doc:"Content-Type of the answer"`
	Headers     string            `ini:"headers" doc:"extra response headers: \"Name: value | Name2: value2\", sent in order"`
	MaxBodySize pipeline.ByteSize `ini:"max_body_size" default:"16MiB" doc:"longest request body read and discarded; a longer one gets 413"`
}

// Factory is the "text" AppFactory.
func Factory(_ context.Context, c *pipeline.Config) (http.Handler, error) {
	var o Options
	if err := c.Decode(&o); err != nil {
		return nil, err
	}
	h, err := New(o)
	if err != nil {
		return nil, c.Errorf("", "%v", err)
	}
	return h, nil
}

// Register registers "text" in reg.
func Register(reg *pipeline.Registry) {
	reg.App("text", Factory, pipeline.Info{
		Doc:     "answers a fixed status, content type, headers and body",
		Options: Options{},
	})
}

// Header is one extra response header.
type Header struct{ Name, Value string }

// ParseHeaders parses the headers option, "Name: value | Name2: value2".
// Empty items are skipped; names must be HTTP tokens, values must not hold
// control characters, and the framing headers Content-Length and
// Transfer-Encoding are refused.
func ParseHeaders(spec string) ([]Header, error) {
	var out []Header
	for _, item := range strings.Split(spec, "|") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, value, ok := strings.Cut(item, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" {
			return nil, fmt.Errorf("headers: bad item %q (want \"Name: value | Name2: value2\")", item)
		}
		if !isToken(name) {
			return nil, fmt.Errorf("headers: %q is not a valid header name", name)
		}
		for i := 0; i < len(value); i++ {
			if c := value[i]; c < ' ' && c != '\t' || c == 0x7f {
				return nil, fmt.Errorf("headers: value of %s holds a control character", name)
			}
		}
		switch http.CanonicalHeaderKey(name) {
		case "Content-Length", "Transfer-Encoding":
			return nil, fmt.Errorf("headers: %s is set by the server and cannot be given", name)
		}
		out = append(out, Header{name, value})
	}
	return out, nil
}

func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return s != ""
}

// ParseStatus parses a status line, "404 Not Found" or "404": a
// three-digit code of at least 200 (a 1xx code is not a final answer).
// The reason phrase is accepted and dropped: Go's server always sends the
// standard one.
func ParseStatus(s string) (int, error) {
	s = strings.TrimSpace(s)
	code, _, _ := strings.Cut(s, " ")
	n, err := strconv.Atoi(code)
	if err != nil || len(code) != 3 || n < 200 {
		return 0, fmt.Errorf("status: want a three-digit code >= 200 and an optional reason, like \"404 Not Found\"; got %q", s)
	}
	return n, nil
}

// New returns the text app for o. A zero MaxBodySize means 16 MiB.
func New(o Options) (http.Handler, error) {
	if o.Status == "" {
		o.Status = "200 OK"
	}
	if o.MaxBodySize == 0 {
		o.MaxBodySize = 16 << 20
	}
	if o.MaxBodySize < 0 {
		return nil, errors.New("max_body_size: must be positive")
	}
	code, err := ParseStatus(o.Status)
	if err != nil {
		return nil, err
	}
	if o.Body != "" && (code == http.StatusNoContent || code == http.StatusNotModified) {
		return nil, fmt.Errorf("status: %d cannot carry a body", code)
	}
	hs, err := ParseHeaders(o.Headers)
	if err != nil {
		return nil, err
	}
	a := &app{code: code, body: []byte(o.Body), max: int64(o.MaxBodySize), headers: hs}
	a.ctype = []string{o.ContentType}
	a.clen = []string{strconv.Itoa(len(a.body))}
	return a, nil
}

type app struct {
	code    int
	body    []byte
	max     int64
	ctype   []string
	clen    []string
	headers []Header
}

// ReadsIdentityHeaders reports false: the answer is the same for every
// caller (see pipeline.ReadsIdentityHeaders).
func (a *app) ReadsIdentityHeaders() bool { return false }

func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, ok := echo.DiscardBody(w, r, a.max); !ok {
		return
	}
	h := w.Header()
	h["Content-Type"] = a.ctype
	if a.code != http.StatusNoContent && a.code != http.StatusNotModified {
		h["Content-Length"] = a.clen
	}
	for _, x := range a.headers {
		h.Add(x.Name, x.Value)
	}
	w.WriteHeader(a.code)
	if r.Method != http.MethodHead && len(a.body) > 0 {
		_, _ = w.Write(a.body)
	}
}
