package pipeline

import (
	"context"
	"errors"
	"github.com/vietstack/vietstack-api/pipeline/paste"
	"net/http"
	"sort"
	"strings"
)

// urlMap dispatches on host and path prefix with Paste's urlmap rules
// (paste-semantics.md §9.5): routes are tried in order (domain routes
// first, longer paths first); a route matches when its domain is empty or
// equals the request's host name or host:port (lower-cased; the port
// defaults to the scheme's) and its path equals the request path or is a prefix of it
// followed by "/". The matched path moves from the URL path to the
// request's ScriptName. Nothing matching gives notFound, or a 404.
type urlMap struct {
	routes   []mapRoute
	notFound http.Handler
}

type mapRoute struct {
	domain string // lower-case host[:port], "" for any
	path   string // "" for the root, else "/a/b" without a trailing slash
	h      http.Handler
}

func (m *urlMap) init() {
	if m.notFound == nil {
		m.notFound = http.HandlerFunc(notFound)
	}
}

// notFound answers as Paste's urlmap does when no route matches: a plain
// text 404 naming the path that was looked up. Unlike Paste it never sends
// the HTML variant, whose comment lists every mounted route and the host;
// the path is capped and characters that could be read as markup or
// control sequences are replaced.
func notFound(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h["Content-Type"] = []string{"text/plain; charset=utf8"}
	w.WriteHeader(http.StatusNotFound)
	if r.Method == http.MethodHead {
		return
	}
	b := make([]byte, 0, len(notFoundHead)+len(r.URL.Path)+4)
	b = append(b, notFoundHead...)
	b = appendSafePath(b, r.URL.Path, 1024)
	b = append(b, "\r\n\r\n"...)
	_, _ = w.Write(b)
}

const notFoundHead = "404 Not Found\r\nThe resource could not be found.\r\n"

func appendSafePath(b []byte, p string, limit int) []byte {
	if len(p) > limit {
		p = p[:limit]
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c < 0x20 || c == 0x7f || c == '<' || c == '>' || c == '&' {
			c = '?'
		}
		b = append(b, c)
	}
	return b
}

// ServeHTTP routes r. It rewrites the request's URL path in place when r
// carries the Root state (whose URL is a private copy); without the state
// it routes a shallow copy.
func (m *urlMap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	if hasUpper(host) {
		host = strings.ToLower(host)
	}
	st := RequestFrom(r)
	port := "80"
	if st != nil && st.Scheme == "https" || st == nil && r.TLS != nil {
		port = "443"
	}
	// As Paste: split off the port (or take the scheme's default), then a
	// domain route matches the bare host or host:port.
	hostname := host
	if i := strings.LastIndexByte(host, ':'); i > strings.LastIndexByte(host, ']') {
		hostname, port = host[:i], host[i+1:]
	}
	path := r.URL.Path
	if strings.Contains(path, "//") {
		path = collapseSlashes(path)
	}
	for i := range m.routes {
		rt := &m.routes[i]
		if rt.domain != "" && rt.domain != hostname && !domainWithPort(rt.domain, hostname, port) {
			continue
		}
		// Whole segments only: the path equals the route or continues
		// with "/" after it. For the root route that means an empty path
		// or one starting with "/" (not "*" or an authority form).
		p := rt.path
		if path != p && !(strings.HasPrefix(path, p) && len(path) > len(p) && path[len(p)] == '/') {
			continue
		}
		if st == nil {
			r2 := new(http.Request)
			*r2 = *r
			u := *r.URL
			r2.URL = &u
			r = r2
		} else if p != "" {
			st.ScriptName += p
		}
		rest := path[len(p):]
		if r.URL.RawPath != "" {
			if strings.HasPrefix(r.URL.RawPath, p) && p == r.URL.Path[:len(p)] {
				r.URL.RawPath = r.URL.RawPath[len(p):]
			} else {
				r.URL.RawPath = ""
			}
		}
		r.URL.Path = rest
		rt.h.ServeHTTP(w, r)
		return
	}
	m.notFound.ServeHTTP(w, r)
}

func domainWithPort(domain, host, port string) bool {
	return len(domain) == len(host)+1+len(port) && strings.HasPrefix(domain, host) &&
		domain[len(host)] == ':' && strings.HasSuffix(domain, port)
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

func collapseSlashes(p string) string {
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		if p[i] == '/' && i > 0 && p[i-1] == '/' {
			continue
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

// newURLMapComposite is the "urlmap" composite factory used when a urlmap
// is reached through a project wrapper (cinder's root_app_factory and the
// like) that the graph keeps as an opaque composite: every local key but
// not_found_app is a route, resolved with c.LoadApp.
func newURLMapComposite(ctx context.Context, c *Config) (http.Handler, error) {
	m := &urlMap{}
	var errs []error
	nf := c.Local["not_found_app"]
	if nf == "" {
		nf = c.Global["not_found_app"]
	}
	if nf != "" {
		h, err := c.LoadApp(ctx, nf)
		if err != nil {
			errs = append(errs, err)
		}
		m.notFound = h
	}
	type entry struct {
		key paste.RouteKey
		h   http.Handler
	}
	byKey := map[paste.RouteKey]int{}
	var entries []entry
	keys := make([]string, 0, len(c.Local))
	for k := range c.Local {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return c.keyLine(keys[i]) < c.keyLine(keys[j]) })
	for _, k := range keys {
		if k == "not_found_app" {
			continue
		}
		h, err := c.LoadApp(ctx, c.Local[k])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		key, err := paste.ParseRouteKey(k)
		if err != nil {
			errs = append(errs, c.Errorf(k, "bad urlmap route: %v", err))
			continue
		}
		key.Domain = strings.ToLower(key.Domain)
		if i, dup := byKey[key]; dup {
			entries[i].h = h // the later duplicate wins, as in Paste
			continue
		}
		byKey[key] = len(entries)
		entries = append(entries, entry{key, h})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	// Paste's order (domain routes first, longer paths first), computed on
	// the keys; the handlers follow their keys.
	sorted := make([]paste.RouteKey, len(entries))
	for i, e := range entries {
		sorted[i] = e.key
	}
	paste.SortRouteKeys(sorted)
	ordered := make([]entry, len(entries))
	for i, k := range sorted {
		ordered[i] = entries[byKey[k]]
	}
	entries = ordered
	for _, e := range entries {
		m.routes = append(m.routes, mapRoute{domain: e.key.Domain, path: e.key.Path, h: e.h})
	}
	m.init()
	return m, nil
}
