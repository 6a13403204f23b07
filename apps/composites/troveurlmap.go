package composites

import (
	"context"
	"errors"
	"github.com/vietstack/vietstack-api/pipeline/paste"
	"net/http"
	"regexp"
	"sort"
	"strings"

	"github.com/vietstack/vietstack-api/pipeline"
)

// TroveURLMapOptions document trove_urlmap's section, trove's
// versioned_urlmap: Paste's urlmap (every key but not_found_app is a route,
// matched as Paste does, without nova's wildcards) plus one rule: when the
// request path names no version ("/vN" or "/vN.M" anywhere in it) but the
// Accept header asks for "application/vnd.openstack.trove[+...];version=V",
// the request goes to the route "/vV" unchanged (no mount prefix consumed),
// or gets 406 when there is no such route.
type TroveURLMapOptions struct {
	NotFoundApp string `ini:"not_found_app" doc:"application for unmatched requests (also read from the global conf)"`
}

// TroveURLMapAliases are the spellings of trove's versioned_urlmap.
var TroveURLMapAliases = []string{"call:trove.common.wsgi:versioned_urlmap"}

var (
	troveURLVersion    = regexp.MustCompile(`/v\d+\.?\d*`)
	troveAcceptVersion = regexp.MustCompile(`application/vnd\.openstack\.trove(?:\+[^;]+?)?;version=(\d+\.?\d*)`)
)

type troveMap struct {
	m *novaMap // Paste matching: no route is a wildcard
}

// TroveURLMapFactory is the "trove_urlmap" CompositeFactory.
func TroveURLMapFactory(ctx context.Context, c *pipeline.Config) (http.Handler, error) {
	m := &novaMap{}
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
	byKey := map[paste.RouteKey]int{}
	for _, k := range keys {
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
			m.routes[i].h = h
			continue
		}
		byKey[key] = len(m.routes)
		m.routes = append(m.routes, novaRoute{domain: key.Domain, path: key.Path, sortLen: len(key.Path), h: h})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
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
	return &troveMap{m: m}, nil
}

func (t *troveMap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	script := ""
	if st := pipeline.RequestFrom(r); st != nil {
		script = st.ScriptName
	}
	if !troveURLVersion.MatchString(script + r.URL.Path) {
		if m := troveAcceptVersion.FindStringSubmatch(strings.Join(r.Header.Values("Accept"), ", ")); m != nil {
			want := "/v" + m[1]
			for i := range t.m.routes {
				if rt := &t.m.routes[i]; rt.domain == "" && rt.path == want {
					rt.h.ServeHTTP(w, r)
					return
				}
			}
			h := w.Header()
			h["Content-Type"] = []string{"application/json"}
			h["X-Content-Type-Options"] = []string{"nosniff"}
			w.WriteHeader(http.StatusNotAcceptable)
			_, _ = w.Write(troveNotAcceptable)
			return
		}
	}
	t.m.serve(w, r, false)
}

var troveNotAcceptable = []byte(`{"notAcceptable": {"code": 406, "message": "version not supported"}}` + "\n")
