// Package headers is the header-rewriting filter: it sets, adds or removes
// request headers before the rest of the pipeline sees the request, and
// response headers just before the response header is written.
//
// For each side the order is remove, then set (replacing every value),
// then add (appending a value). Header lines are "Name: value", one per
// line (ini continuation lines); names are canonicalised. Headers that the
// HTTP framing owns (Content-Length, Transfer-Encoding, Connection,
// Keep-Alive, Upgrade, TE, Trailer, Host) are refused at load time.
//
// A filter with no response rules adds nothing per response; with some, it
// wraps the response writer once per request (Flush and Hijack still work:
// a Flush before any write applies the rules first).
package headers

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/textproto"
	"strings"

	"github.com/vietstack/vietstack-api/pipeline"
)

// Options are the options of the headers filter.
type Options struct {
	RequestSet     string   `ini:"request_set" doc:"request headers to set, one \"Name: value\" per line"`
	RequestAdd     string   `ini:"request_add" doc:"request header values to add, one \"Name: value\" per line"`
	RequestRemove  []string `ini:"request_remove" doc:"request headers to remove (comma or space list)"`
	ResponseSet    string   `ini:"response_set" doc:"response headers to set, one \"Name: value\" per line"`
	ResponseAdd    string   `ini:"response_add" doc:"response header values to add, one \"Name: value\" per line"`
	ResponseRemove []string `ini:"response_remove" doc:"response headers to remove (comma or space list)"`
}

// Register registers the headers filter factory in reg under the name
// "headers" (use = egg:vietstack#headers).
func Register(reg *pipeline.Registry) {
	reg.Filter("headers", Factory, pipeline.Info{
		Doc:     "sets, adds or removes request and response headers",
		Options: Options{},
	})
}

// Factory is the headers FilterFactory; each bad line is reported at its
// option.
func Factory(ctx context.Context, c *pipeline.Config) (pipeline.Middleware, error) {
	var o Options
	if err := c.Decode(&o); err != nil {
		return nil, err
	}
	m, err := New(o)
	if err != nil {
		if oe, ok := err.(*optionError); ok {
			return nil, c.Errorf(oe.key, "%v", oe.msg)
		}
		return nil, c.Errorf("", "%v", err)
	}
	return m, nil
}

type optionError struct{ key, msg string }

func (e *optionError) Error() string { return e.key + ": " + e.msg }

type field struct{ name, value string }

// Rules are the parsed header operations of one side.
type rules struct {
	remove []string
	set    []field
	add    []field
}

func (r *rules) empty() bool { return len(r.remove) == 0 && len(r.set) == 0 && len(r.add) == 0 }

func (r *rules) apply(h http.Header) {
	for _, k := range r.remove {
		delete(h, k)
	}
	for _, f := range r.set {
		h[f.name] = []string{f.value}
	}
	for _, f := range r.add {
		h[f.name] = append(h[f.name], f.value)
	}
}

var framing = map[string]bool{
	"Content-Length": true, "Transfer-Encoding": true, "Connection": true, "Keep-Alive": true,
	"Upgrade": true, "Te": true, "Trailer": true, "Host": true, "Proxy-Connection": true,
}

func validName(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

func validValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

func name(key, n string) (string, error) {
	if !validName(n) {
		return "", &optionError{key, fmt.Sprintf("invalid header name %q", n)}
	}
	k := textproto.CanonicalMIMEHeaderKey(n)
	if framing[k] {
		return "", &optionError{key, fmt.Sprintf("header %s is managed by the HTTP framing and cannot be changed", k)}
	}
	return k, nil
}

func parseFields(key, s string) ([]field, error) {
	var out []field
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		n, v, ok := strings.Cut(line, ":")
		if !ok {
			return nil, &optionError{key, fmt.Sprintf("%q: want \"Name: value\"", line)}
		}
		k, err := name(key, strings.TrimSpace(n))
		if err != nil {
			return nil, err
		}
		v = strings.TrimSpace(v)
		if !validValue(v) {
			return nil, &optionError{key, fmt.Sprintf("header %s: value holds control characters", k)}
		}
		out = append(out, field{k, v})
	}
	return out, nil
}

func parseRules(prefix string, set, add string, remove []string) (rules, error) {
	var r rules
	var err error
	if r.set, err = parseFields(prefix+"_set", set); err != nil {
		return r, err
	}
	if r.add, err = parseFields(prefix+"_add", add); err != nil {
		return r, err
	}
	for _, n := range remove {
		k, err := name(prefix+"_remove", n)
		if err != nil {
			return r, err
		}
		r.remove = append(r.remove, k)
	}
	return r, nil
}

// New returns the middleware for o, or an error naming the bad option.
func New(o Options) (pipeline.Middleware, error) {
	req, err := parseRules("request", o.RequestSet, o.RequestAdd, o.RequestRemove)
	if err != nil {
		return nil, err
	}
	resp, err := parseRules("response", o.ResponseSet, o.ResponseAdd, o.ResponseRemove)
	if err != nil {
		return nil, err
	}
	return func(next http.Handler) http.Handler {
		switch {
		case req.empty() && resp.empty():
			return next
		case resp.empty():
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				req.apply(r.Header)
				next.ServeHTTP(w, r)
			})
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			req.apply(r.Header)
			next.ServeHTTP(&writer{ResponseWriter: w, rules: &resp}, r)
		})
	}, nil
}

// writer applies the response rules once, before the header goes out.
type writer struct {
	http.ResponseWriter
	rules *rules
	done  bool
}

func (w *writer) before() {
	if !w.done {
		w.done = true
		w.rules.apply(w.ResponseWriter.Header())
	}
}

func (w *writer) WriteHeader(code int) {
	if code >= 200 || code == http.StatusSwitchingProtocols {
		w.before()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *writer) Write(b []byte) (int, error) {
	w.before()
	return w.ResponseWriter.Write(b)
}

// FlushError applies the rules, then flushes (for http.ResponseController).
func (w *writer) FlushError() error {
	w.before()
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Flush implements http.Flusher for middleware that type-asserts it.
func (w *writer) Flush() { _ = w.FlushError() }

// Hijack hands over the connection; no rules apply after that.
func (w *writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap returns the wrapped writer.
func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }
