package paste

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// urlmapKey is a normalised urlmap key: Paste's (domain, path) pair.
type urlmapKey struct {
	domain    string
	hasDomain bool
	path      string
}

// display is the key's display form (FORMAT.md §3.2).
func (k urlmapKey) display() string {
	s := ""
	if k.hasDomain && k.domain != "" {
		s = "http://" + k.domain
	}
	if k.path == "" {
		return s + "/"
	}
	return s + k.path
}

// parsePathExpression is paste.urlmap.parse_path_expression: it turns an
// ini key such as "domain api.example.com port 8080 /v2" into a URL.
func parsePathExpression(expr string) (string, error) {
	parts := strings.Fields(expr)
	var domain, port, path string
	for len(parts) > 0 {
		switch parts[0] {
		case "domain":
			parts = parts[1:]
			if len(parts) == 0 {
				return "", errors.New("'domain' must be followed with a domain name")
			}
			if domain != "" {
				return "", errors.New("'domain' given twice")
			}
			domain, parts = parts[0], parts[1:]
		case "port":
			parts = parts[1:]
			if len(parts) == 0 {
				return "", errors.New("'port' must be followed with a port number")
			}
			if port != "" {
				return "", errors.New("'port' given twice")
			}
			port, parts = parts[0], parts[1:]
		default:
			if path != "" {
				return "", fmt.Errorf("more than one path given (have %s, got %s)", pyRepr(path), pyRepr(parts[0]))
			}
			path, parts = parts[0], parts[1:]
		}
	}
	s := ""
	if domain != "" {
		s = "http://" + domain
	}
	if port != "" {
		if domain == "" {
			return "", errors.New("If you give a port, you must also give a domain")
		}
		s += ":" + port
	}
	if path != "" {
		if s != "" {
			s += "/"
		}
		s += path
	}
	return s, nil
}

// domainPrefix returns the length of the "http://" or "https://" that
// starts u (the regexp ^(http|https)://), or 0.
func domainPrefix(u string) int {
	switch {
	case strings.HasPrefix(u, "http://"):
		return len("http://")
	case strings.HasPrefix(u, "https://"):
		return len("https://")
	}
	return 0
}

// collapseSlashes replaces every run of '/' in u by one (the regexp //+).
func collapseSlashes(u string) string {
	if !strings.Contains(u, "//") {
		return u
	}
	var b strings.Builder
	b.Grow(len(u))
	for i := 0; i < len(u); i++ {
		if u[i] == '/' && i > 0 && u[i-1] == '/' {
			continue
		}
		b.WriteByte(u[i])
	}
	return b.String()
}

// normalizeURL is URLMap.normalize_url (trimming): the scheme is dropped,
// the domain split off with its case and port, "/" runs collapsed and
// trailing "/" removed.
func normalizeURL(u string) (urlmapKey, error) {
	if u != "" && !strings.HasPrefix(u, "/") && domainPrefix(u) == 0 {
		return urlmapKey{}, fmt.Errorf("URL fragments must start with / or http:// (you gave %s)", pyRepr(u))
	}
	var k urlmapKey
	if n := domainPrefix(u); n > 0 {
		u = u[n:]
		k.hasDomain = true
		if i := strings.IndexByte(u, '/'); i >= 0 {
			k.domain, u = u[:i], u[i:]
		} else {
			k.domain, u = u, ""
		}
	}
	u = collapseSlashes(u)
	k.path = strings.TrimRight(u, "/")
	return k, nil
}

// sortRoutes orders keys as URLMap.sort_apps does: domain entries first,
// by domain, then longer paths first, then by path.
func sortRoutes(keys []urlmapKey) {
	sortKey := func(k urlmapKey) string {
		if !k.hasDomain || k.domain == "" {
			return "\u00ff"
		}
		return k.domain
	}
	sort.SliceStable(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		ka, kb := sortKey(a), sortKey(b)
		if ka != kb {
			return ka < kb
		}
		la, lb := utf8.RuneCountInString(a.path), utf8.RuneCountInString(b.path)
		if la != lb {
			return la > lb
		}
		if a.domain != b.domain {
			return a.domain < b.domain
		}
		return a.path < b.path
	})
}

// RouteKey is a parsed urlmap route key: Domain as written (case kept,
// with ":port" when given; "" for none) and Path normalised ("" for the
// root, "/a/b" without a trailing slash).
type RouteKey struct {
	Domain string
	Path   string
}

// ParseRouteKey parses a urlmap route key with Paste's grammar
// ("[domain HOST] [port N] [/path]") and normalisation. Composites that
// build a urlmap at build time (project urlmap wrappers, nova's urlmap)
// use it so that they read keys exactly as the loader does.
func ParseRouteKey(key string) (RouteKey, error) {
	u, err := parsePathExpression(key)
	if err != nil {
		return RouteKey{}, err
	}
	k, err := normalizeURL(u)
	if err != nil {
		return RouteKey{}, err
	}
	return RouteKey{Domain: k.domain, Path: k.path}, nil
}

// SortRouteKeys orders keys as Paste's urlmap tries them: domain entries
// first by domain, then longer paths first, then by path.
func SortRouteKeys(keys []RouteKey) {
	ks := make([]urlmapKey, len(keys))
	for i, k := range keys {
		ks[i] = urlmapKey{domain: k.Domain, hasDomain: k.Domain != "", path: k.Path}
	}
	sortRoutes(ks)
	for i, k := range ks {
		keys[i] = RouteKey{Domain: k.domain, Path: k.path}
	}
}

// urlmapHint explains keys Paste's urlmap cannot use.
func urlmapHint(key, value string) string {
	if (key == "http" || key == "https") && strings.HasPrefix(value, "//") {
		host, rest, _ := strings.Cut(strings.TrimPrefix(value, "//"), "/")
		path, _, _ := strings.Cut(rest, "=")
		path = "/" + strings.TrimSpace(path)
		return fmt.Sprintf("an ini key cannot contain ':', so %q was read as key %q; write 'domain %s %s = …' instead",
			key+":"+value, key, host, strings.TrimRight(path, " "))
	}
	return ""
}
