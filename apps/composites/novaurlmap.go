package composites

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/vietstack/vietstack-api/pipeline"
	"github.com/vietstack/vietstack-api/pipeline/paste"
)

// NovaURLMapOptions document nova_urlmap's section. Every key but
// not_found_app is a route, as in Paste's urlmap: "[domain HOST] [port N]
// /path = app". A path ending in "/+" (nova's wildcard) matches only paths
// that continue after that "/": "/v2.1/+" takes "/v2.1/servers" but neither
// "/v2.1" nor "/v2.1/", and mounts the app at "/v2.1".
//
// Routing, in nova's order: a versioned path prefix (any route but the
// root); else a "version=V" parameter of Content-Type, then of the best
// Accept entry, selects the route "/vV" and mounts it without consuming
// the path; else the longest matching route, the root included. Unmatched
// requests get not_found_app, or a JSON 404 that does not list the routes.
// nova's nova.best_content_type is not computed: the apps here negotiate
// content types themselves.
type NovaURLMapOptions struct {
	NotFoundApp string `ini:"not_found_app" doc:"application for unmatched requests (also read from the global conf)"`
}

// NovaURLMapAliases are the spellings of nova's urlmap and its copies.
var NovaURLMapAliases = []string{
	"call:nova.api.openstack.urlmap:urlmap_factory",
	"call:masakari.api.urlmap:urlmap_factory",
}

// novaMap is the handler: routes in Paste's match order.
type novaMap struct {
	routes    []novaRoute
	notFound  http.Handler
	supported []string // media types whose "version" parameter counts
}

type novaRoute struct {
	domain   string // lower-case host[:port], "" for any
	path     string // "" for the root, else "/a/b"; for a wildcard, without "/+"
	sortLen  int    // the length Paste sorts by (the key's path as written, "/+" included)
	wildcard bool
	line     int
	h        http.Handler
}

// NovaURLMapFactory is the "nova_urlmap" CompositeFactory.
func NovaURLMapFactory(ctx context.Context, c *pipeline.Config) (http.Handler, error) {
	m := &novaMap{supported: []string{"application/json", "application/vnd.openstack.compute+json"}}
	if strings.Contains(c.Factory, "masakari") {
		m.supported = []string{"application/json", "application/vnd.openstack.masakari+json"}
	}
	if err := m.load(ctx, c, parseNovaKey); err != nil {
		return nil, err
	}
	return m, nil
}

// load resolves the not_found_app and every route of c (in file order,
// the later duplicate of a key winning, as in Paste), reading keys with
// parse, and sorts the routes in Paste's order: domain routes first (by
// domain), then by the length of the path as written, longest first; ties
// keep file order.
func (m *novaMap) load(ctx context.Context, c *pipeline.Config, parse func(string) (novaRoute, error)) error {
	var errs []error
	nf, ok := c.Local["not_found_app"]
	if !ok {
		nf = c.Global["not_found_app"]
	}
	if nf = strings.TrimSpace(nf); nf != "" {
		h, err := c.LoadApp(ctx, nf)
		if err != nil {
			errs = append(errs, err)
		}
		m.notFound = h
	}
	keys := make([]string, 0, len(c.Local))
	for k := range c.Local {
		if k != "not_found_app" {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		li, lj := keyLine(c, keys[i]), keyLine(c, keys[j])
		return li < lj || li == lj && keys[i] < keys[j]
	})
	byKey := map[[2]string]int{}
	for _, k := range keys {
		h, err := c.LoadApp(ctx, c.Local[k])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rt, err := parse(k)
		if err != nil {
			errs = append(errs, c.Errorf(k, "bad urlmap route: %v", err))
			continue
		}
		rt.h, rt.line = h, keyLine(c, k)
		id := [2]string{rt.domain, rt.path + map[bool]string{true: "/+"}[rt.wildcard]}
		if i, dup := byKey[id]; dup {
			m.routes[i].h = h // the later duplicate wins, as in Paste
			continue
		}
		byKey[id] = len(m.routes)
		m.routes = append(m.routes, rt)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	sort.SliceStable(m.routes, func(i, j int) bool {
		a, b := m.routes[i], m.routes[j]
		if (a.domain == "") != (b.domain == "") {
			return a.domain != ""
		}
		if a.domain != b.domain {
			return a.domain < b.domain
		}
		return a.sortLen > b.sortLen
	})
	if m.notFound == nil {
		m.notFound = http.HandlerFunc(notFound)
	}
	return nil
}

// keyLine is the line where key was written in c's section (0 if unknown).
func keyLine(c *pipeline.Config, key string) int {
	var pe *paste.Error
	if errors.As(c.Errorf(key, "position"), &pe) {
		return pe.Line
	}
	return 0
}

// parseNovaKey parses a route key: Paste's grammar, plus a trailing "/+".
func parseNovaKey(k string) (novaRoute, error) {
	fields := strings.Fields(k)
	wild := false
	if n := len(fields); n > 0 && strings.HasSuffix(fields[n-1], "/+") {
		wild = true
		fields[n-1] = strings.TrimSuffix(fields[n-1], "+")
	}
	key, err := paste.ParseRouteKey(strings.Join(fields, " "))
	if err != nil {
		return novaRoute{}, err
	}
	rt := novaRoute{domain: strings.ToLower(key.Domain), path: key.Path, wildcard: wild, sortLen: len(key.Path)}
	if wild {
		rt.sortLen += 2
	}
	return rt, nil
}

// match is nova's URLMap._match: the first route (in order) for host and
// port that path selects, and the mount prefix.
func (m *novaMap) match(host, port, path string) (*novaRoute, string) {
	for i := range m.routes {
		rt := &m.routes[i]
		if rt.domain != "" && rt.domain != host && rt.domain != host+":"+port {
			continue
		}
		if rt.wildcard {
			// The path must continue after "<path>/".
			if len(path) > len(rt.path)+1 && strings.HasPrefix(path, rt.path) && path[len(rt.path)] == '/' {
				return rt, rt.path
			}
			continue
		}
		if path == rt.path || strings.HasPrefix(path, rt.path+"/") {
			return rt, rt.path
		}
	}
	return nil, ""
}

func (m *novaMap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.serve(w, r, true)
}

// serve routes r; without nova's version rules (trove's base map) only the
// plain longest-prefix match applies.
func (m *novaMap) serve(w http.ResponseWriter, r *http.Request, nova bool) {
	st := pipeline.RequestFrom(r)
	scheme := "http"
	if st != nil {
		scheme = st.Scheme
	} else if r.TLS != nil {
		scheme = "https"
	}
	host := strings.ToLower(r.Host)
	var port string
	if h, p, ok := strings.Cut(host, ":"); ok {
		host, port = h, p
	} else if scheme == "http" {
		port = "80"
	} else {
		port = "443"
	}
	path := r.URL.Path
	if strings.Contains(path, "//") {
		path = collapseSlashes(path)
	}

	var rt *novaRoute
	var mount string
	consume := true
	if nova {
		rt, mount, consume = m.versioned(r, host, port, path)
	}
	if rt == nil {
		// 4. Any route, the root included.
		rt, mount = m.match(host, port, path)
		consume = true
	}
	if rt == nil {
		m.notFound.ServeHTTP(w, r)
		return
	}
	if st == nil {
		r2 := new(http.Request)
		*r2 = *r
		u := *r.URL
		r2.URL = &u
		r = r2
	} else {
		st.ScriptName += mount
	}
	if consume {
		rest := path[len(mount):]
		if r.URL.RawPath != "" {
			if path == r.URL.Path && strings.HasPrefix(r.URL.RawPath, mount) {
				r.URL.RawPath = r.URL.RawPath[len(mount):]
			} else {
				r.URL.RawPath = ""
			}
		}
		r.URL.Path = rest
	}
	rt.h.ServeHTTP(w, r)
}

// versioned applies nova's version rules 1 to 3: a versioned path prefix,
// then a version= parameter of Content-Type, then of the best Accept entry.
// consume reports whether the mount prefix comes off the path (rule 1).
func (m *novaMap) versioned(r *http.Request, host, port, path string) (rt *novaRoute, mount string, consume bool) {
	// 1. A versioned path prefix (the root does not count).
	var appURL string
	rt, mount = m.match(host, port, path)
	consume = true
	if rt != nil && mount == "" {
		rt = nil
	}
	if rt != nil {
		appURL = mount
	}
	if rt == nil {
		// 2. Content-Type: ...;version=V
		if _, params := parseOptionsHeader(r.Header.Get("Content-Type")); params["version"] != "" {
			rt, mount = m.match(host, port, "/v"+params["version"])
			consume = false
		}
	}
	if rt == nil {
		// 3. The best Accept entry's version=V.
		supported := m.supported
		if appURL != "" && appURL+"/" == path || path == "/" {
			supported = append(supported[:len(supported):len(supported)], "application/atom+xml")
		}
		if params := bestAcceptParams(r.Header.Values("Accept"), supported); params["version"] != "" {
			rt, mount = m.match(host, port, "/v"+params["version"])
			consume = false
		}
	}
	return rt, mount, consume
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

func notFound(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["X-Content-Type-Options"] = []string{"nosniff"}
	w.WriteHeader(http.StatusNotFound)
	_, _ = w.Write(notFoundBody)
}

var notFoundBody = []byte(`{"error": {"code": 404, "title": "Not Found", "message": "The resource could not be found."}}` + "\n")

// parseOptionsHeader splits "type/sub; k=v; k2=\"v2\"" into the media type
// and its parameters (keys as written, values trimmed and unquoted).
func parseOptionsHeader(v string) (string, map[string]string) {
	parts := splitOutsideQuotes(v, ';')
	if len(parts) == 0 {
		return "", nil
	}
	name := unquote(strings.TrimSpace(parts[0]))
	var params map[string]string
	for _, p := range parts[1:] {
		k, val, _ := strings.Cut(p, "=")
		k = unquote(strings.TrimSpace(k))
		if k == "" {
			continue
		}
		if params == nil {
			params = map[string]string{}
		}
		params[k] = unquote(strings.TrimSpace(val))
	}
	return name, params
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// splitOutsideQuotes splits s at sep where sep is not inside a quoted
// string (urllib's parse_http_list for ',').
func splitOutsideQuotes(s string, sep byte) []string {
	var out []string
	start, inQuote, esc := 0, false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case esc:
			esc = false
		case inQuote && c == '\\':
			esc = true
		case c == '"':
			inQuote = !inQuote
		case c == sep && !inQuote:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	out = append(out, s[start:])
	return out
}

// bestAcceptParams is nova's Accept.best_match: the parameters of the
// Accept entry with the highest quality that matches a supported type,
// preferring the more specific mask on equal quality.
func bestAcceptParams(values []string, supported []string) map[string]string {
	type entry struct {
		mask   string
		params map[string]string
	}
	var entries []entry
	for _, v := range values {
		for _, item := range splitOutsideQuotes(v, ',') {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			mask, params := parseOptionsHeader(item)
			entries = append(entries, entry{mask, params})
		}
		if len(entries) > 64 { // bound the work on hostile headers
			break
		}
	}
	bestQ := -1.0
	bestMask := "*/*"
	var best map[string]string
	for _, ct := range supported {
		for _, e := range entries {
			q := 1.0
			if s, ok := e.params["q"]; ok {
				f, err := strconv.ParseFloat(s, 64)
				if err != nil {
					continue
				}
				q = f
			}
			if q < bestQ {
				continue
			}
			if q == bestQ && strings.Count(bestMask, "*") <= strings.Count(e.mask, "*") {
				continue
			}
			if matchMask(e.mask, ct) {
				bestQ, bestMask, best = q, e.mask, e.params
			}
		}
	}
	return best
}

func matchMask(mask, ct string) bool {
	if !strings.Contains(mask, "*") {
		return ct == mask
	}
	if mask == "*/*" {
		return true
	}
	major, _, _ := strings.Cut(ct, "/")
	return len(mask) >= 2 && major == mask[:len(mask)-2]
}
