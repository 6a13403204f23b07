// Package proxyheaders is the http_proxy_to_wsgi filter, the Go
// counterpart of oslo.middleware's HTTPProxyToWSGI: behind a reverse proxy
// it takes the client's scheme, Host, address and the mount prefix from
// the RFC 7239 Forwarded header or the X-Forwarded-Proto/Host/For/Prefix
// headers.
//
// It does nothing unless enable_proxy_headers_parsing is true, as in oslo.
// Unlike oslo it validates every value (scheme only http or https, a
// well-formed host[:port], an IP address, a clean path prefix) and ignores
// the ones that are not, and it can be limited to peers in
// trusted_proxies, in which case the client is the right-most address of
// the chain that is not a trusted proxy.
package proxyheaders

import (
	"context"
	"fmt"
	"github.com/vietstack/vietstack-api/filters/osloconf"
	"net/http"
	"net/netip"
	"strings"

	"github.com/vietstack/vietstack-api/pipeline"
)

// Options are the options of the http_proxy_to_wsgi filter. Both are read,
// as oslo does, from the section (or the global conf), else from the
// [oslo_middleware] group of the oslo.config file named by
// oslo_config_project / oslo_config_file.
type Options struct {
	EnableProxyHeadersParsing bool     `ini:"enable_proxy_headers_parsing" default:"false" doc:"believe Forwarded / X-Forwarded-* request headers (only behind a proxy that sets them)"`
	TrustedProxies            []string `ini:"trusted_proxies" doc:"addresses or CIDRs of the proxies whose headers are believed; empty means any peer, as oslo"`

	OsloConfigProject string `ini:"oslo_config_project" doc:"oslo.config project whose config file supplies [oslo_middleware] options"`
	OsloConfigFile    string `ini:"oslo_config_file" doc:"the oslo.config file to read instead of the project's standard ones"`
	OsloConfigProgram string `ini:"oslo_config_program" doc:"oslo.config program name (an extra PROGRAM.conf is searched)"`
}

// Register registers the http_proxy_to_wsgi filter in reg with every
// Python spelling of oslo's HTTPProxyToWSGI.
func Register(reg *pipeline.Registry) {
	reg.Filter("http_proxy_to_wsgi", New, pipeline.Info{
		Doc:     "oslo HTTPProxyToWSGI: client scheme, host, address and mount prefix from Forwarded / X-Forwarded-* (opt-in, validated)",
		Options: Options{},
	})
	for _, a := range []string{
		"egg:oslo.middleware#http_proxy_to_wsgi",
		"oslo_middleware:HTTPProxyToWSGI.factory",
		"oslo_middleware.http_proxy_to_wsgi:HTTPProxyToWSGI.factory",
	} {
		reg.Alias(a, "http_proxy_to_wsgi")
	}
}

// New is the http_proxy_to_wsgi FilterFactory.
func New(ctx context.Context, c *pipeline.Config) (pipeline.Middleware, error) {
	oslo, err := osloconf.Load(c)
	if err != nil {
		return nil, err
	}
	var o Options
	err = osloconf.Decode(c, &o, func(key string) (string, string, bool, error) {
		return oslo.Get("oslo_middleware", key)
	})
	if err != nil {
		return nil, err
	}
	trusted, err := ParseTrusted(o.TrustedProxies)
	if err != nil {
		return nil, c.Errorf("trusted_proxies", "%v", err)
	}
	if !o.EnableProxyHeadersParsing {
		if len(trusted) > 0 && c.Logger != nil {
			c.Logger.Warn("trusted_proxies is set but enable_proxy_headers_parsing is false: forwarded headers are ignored")
		}
		return func(next http.Handler) http.Handler { return next }, nil
	}
	return Middleware(trusted), nil
}

// ParseTrusted parses trusted proxy entries: CIDRs ("10.0.0.0/8") or
// single addresses ("192.0.2.1", "::1").
func ParseTrusted(items []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, it := range items {
		if strings.Contains(it, "/") {
			p, err := netip.ParsePrefix(it)
			if err != nil {
				return nil, fmt.Errorf("invalid entry %q: want an IP address or a CIDR such as 10.0.0.0/8", it)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(it)
		if err != nil || a.Zone() != "" {
			return nil, fmt.Errorf("invalid entry %q: want an IP address or a CIDR such as 10.0.0.0/8", it)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// Middleware returns the parsing middleware (parsing enabled). With no
// trusted prefixes every peer is believed and, as oslo does, the first
// Forwarded element and the first X-Forwarded-For address describe the
// client. With trusted prefixes a peer outside them changes nothing, and
// the client is the right-most chain entry that is not a trusted proxy
// (its Forwarded element also supplies proto and host).
//
// Results go into the pipeline request state (Scheme, RemoteAddr as a bare
// IP address, ScriptName prefixed with X-Forwarded-Prefix) and r.Host, on
// a shallow copy of the request. A request without forwarded headers
// passes through with no allocation; invalid values are ignored one by
// one and never cause an error answer.
func Middleware(trusted []netip.Prefix) pipeline.Middleware {
	p := &parser{trusted: append([]netip.Prefix(nil), trusted...)}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, p.apply(r))
		})
	}
}

type parser struct {
	trusted []netip.Prefix
}

func (p *parser) isTrusted(a netip.Addr) bool {
	for _, pr := range p.trusted {
		if pr.Contains(a) {
			return true
		}
	}
	return false
}

// result is what the forwarded headers of a request say, validated; empty
// fields mean "unchanged".
type result struct {
	Scheme string     // "http" or "https"
	Host   string     // host[:port]
	Client netip.Addr // the client address
	Prefix string     // the mount prefix, "/..." without a trailing slash
}

// parse returns what the forwarded headers of r say, if its peer
// (r.RemoteAddr) may set them.
func (p *parser) parse(r *http.Request) result {
	var res result
	if len(p.trusted) > 0 {
		peer, ok := parseNode(r.RemoteAddr)
		if !ok || !p.isTrusted(peer) {
			return res
		}
	}
	h := r.Header
	if fwd := h["Forwarded"]; len(fwd) > 0 {
		res.Scheme, res.Host, res.Client = p.forwarded(fwd)
	} else {
		res.Client = p.xff(h["X-Forwarded-For"])
		res.Scheme = validProto(firstItem(h["X-Forwarded-Proto"]))
		if v := firstItem(h["X-Forwarded-Host"]); validHost(v) {
			res.Host = v
		}
	}
	if v := h["X-Forwarded-Prefix"]; len(v) == 1 {
		res.Prefix = cleanPrefix(v[0])
	}
	return res
}

func (p *parser) apply(r *http.Request) *http.Request {
	h := r.Header
	if h["Forwarded"] == nil && h["X-Forwarded-For"] == nil && h["X-Forwarded-Proto"] == nil &&
		h["X-Forwarded-Host"] == nil && h["X-Forwarded-Prefix"] == nil {
		return r
	}
	res := p.parse(r)
	if st := pipeline.RequestFrom(r); st != nil {
		if res.Scheme != "" {
			st.Scheme = res.Scheme
		}
		if res.Client.IsValid() {
			st.RemoteAddr = res.Client.String()
		}
		if res.Prefix != "" {
			st.ScriptName = res.Prefix + st.ScriptName
		}
	}
	if res.Host != "" && res.Host != r.Host {
		r = r.WithContext(r.Context())
		r.Host = res.Host
	}
	return r
}

// maxElements bounds the Forwarded elements and X-Forwarded-For entries
// considered; a longer chain is ignored.
const maxElements = 32

type element struct {
	forv, proto, host string
}

// forwarded interprets Forwarded header lines (one comma-separated list).
func (p *parser) forwarded(lines []string) (scheme, host string, client netip.Addr) {
	var buf [8]element
	elems := buf[:0]
	for _, line := range lines {
		for part := range splitQuoted(line, ',') {
			e, ok := parseElement(part)
			if !ok {
				continue // oslo skips elements without any pair
			}
			if len(elems) == maxElements {
				return "", "", netip.Addr{}
			}
			elems = append(elems, e)
		}
	}
	if len(elems) == 0 {
		return "", "", netip.Addr{}
	}
	i := 0
	if len(p.trusted) > 0 {
		for i = len(elems) - 1; i > 0; i-- {
			a, ok := parseNode(elems[i].forv)
			if !ok || !p.isTrusted(a) {
				break
			}
		}
	}
	e := elems[i]
	if a, ok := parseNode(e.forv); ok {
		client = a
	}
	if validHost(e.host) {
		host = e.host
	}
	return validProto(e.proto), host, client
}

// parseElement parses one Forwarded element ("for=...;proto=...").
func parseElement(s string) (element, bool) {
	var e element
	found := false
	for pair := range splitQuoted(s, ';') {
		k, v, ok := strings.Cut(pair, "=")
		if !ok {
			continue
		}
		found = true
		k = strings.TrimSpace(k)
		v = unquote(strings.TrimSpace(v))
		switch {
		case strings.EqualFold(k, "for"):
			e.forv = v
		case strings.EqualFold(k, "proto"):
			e.proto = v
		case strings.EqualFold(k, "host"):
			e.host = v
		}
	}
	return e, found
}

// splitQuoted yields the parts of s separated by sep outside double
// quotes.
func splitQuoted(s string, sep byte) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		start, inQuote := 0, false
		for i := 0; i < len(s); i++ {
			switch c := s[i]; {
			case c == '\\' && inQuote:
				i++
			case c == '"':
				inQuote = !inQuote
			case c == sep && !inQuote:
				if !yield(s[start:i]) {
					return
				}
				start = i + 1
			}
		}
		yield(s[start:])
	}
}

// unquote removes RFC 7230 quoted-string quoting; a malformed quoted
// string is returned as is (and then fails validation).
func unquote(s string) string {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return s
	}
	in := s[1 : len(s)-1]
	if !strings.Contains(in, "\\") {
		if strings.Contains(in, "\"") {
			return s
		}
		return in
	}
	var b strings.Builder
	for i := 0; i < len(in); i++ {
		c := in[i]
		if c == '\\' {
			i++
			if i == len(in) {
				return s
			}
			c = in[i]
		} else if c == '"' {
			return s
		}
		b.WriteByte(c)
	}
	return b.String()
}

// xff picks the client from X-Forwarded-For lines (one comma list).
func (p *parser) xff(lines []string) netip.Addr {
	if len(lines) == 0 {
		return netip.Addr{}
	}
	var buf [8]string
	items := buf[:0]
	for _, line := range lines {
		for it := range strings.SplitSeq(line, ",") {
			if len(items) == maxElements {
				return netip.Addr{}
			}
			items = append(items, strings.TrimSpace(it))
		}
	}
	i := 0
	if len(p.trusted) > 0 {
		for i = len(items) - 1; i > 0; i-- {
			a, ok := parseNode(items[i])
			if !ok || !p.isTrusted(a) {
				break
			}
		}
	}
	a, _ := parseNode(items[i])
	return a
}

// parseNode parses a client node: "192.0.2.1", "192.0.2.1:4711",
// "2001:db8::1", "[2001:db8::1]" or "[2001:db8::1]:4711". Obfuscated and
// "unknown" nodes, zones and anything else are rejected.
func parseNode(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 64 {
		return netip.Addr{}, false
	}
	var a netip.Addr
	var err error
	if s[0] == '[' {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return netip.Addr{}, false
		}
		if rest := s[end+1:]; rest != "" && (rest[0] != ':' || !validPort(rest[1:])) {
			return netip.Addr{}, false
		}
		a, err = netip.ParseAddr(s[1:end])
		if err != nil || !a.Is6() {
			return netip.Addr{}, false
		}
	} else if strings.Count(s, ":") == 1 { // IPv4 with a port
		host, port, _ := strings.Cut(s, ":")
		if !validPort(port) {
			return netip.Addr{}, false
		}
		a, err = netip.ParseAddr(host)
		if err != nil || !a.Is4() {
			return netip.Addr{}, false
		}
	} else if a, err = netip.ParseAddr(s); err != nil {
		return netip.Addr{}, false
	}
	if a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func validPort(s string) bool {
	if s == "" || len(s) > 5 {
		return false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n >= 1 && n <= 65535
}

// validProto returns "http" or "https" for those schemes in any case, and
// "" for anything else.
func validProto(s string) string {
	switch {
	case strings.EqualFold(s, "http"):
		return "http"
	case strings.EqualFold(s, "https"):
		return "https"
	}
	return ""
}

// firstItem returns the first comma-separated item of a header that may
// have been repeated, trimmed.
func firstItem(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	v, _, _ := strings.Cut(lines[0], ",")
	return strings.TrimSpace(v)
}

// validHost reports whether s is a host[:port]: a DNS name (letters,
// digits, '-', '_', '.'), an IPv4 address or a bracketed IPv6 address,
// with an optional port 1-65535.
func validHost(s string) bool {
	if s == "" || len(s) > 260 {
		return false
	}
	if s[0] == '[' {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return false
		}
		if rest := s[end+1:]; rest != "" && (rest[0] != ':' || !validPort(rest[1:])) {
			return false
		}
		a, err := netip.ParseAddr(s[1:end])
		return err == nil && a.Is6() && a.Zone() == ""
	}
	host := s
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		if !validPort(s[i+1:]) {
			return false
		}
		host = s[:i]
	}
	if host == "" || len(host) > 253 || host[0] == '.' || host[0] == '-' || strings.Contains(host, "..") {
		return false
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// cleanPrefix validates an X-Forwarded-Prefix: an absolute path of
// printable characters without '%', '?', '#', '\\', empty, "." or ".."
// segments. Trailing slashes are dropped; "" means invalid or "/".
func cleanPrefix(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || s[0] != '/' || len(s) > 1024 {
		return ""
	}
	s = strings.TrimRight(s, "/")
	if s == "" {
		return ""
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '%' || c == '?' || c == '#' || c == '\\' {
			return ""
		}
	}
	for seg := range strings.SplitSeq(s[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return ""
		}
	}
	return s
}
