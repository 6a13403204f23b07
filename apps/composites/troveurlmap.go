package composites

import (
	"context"
	"github.com/vietstack/vietstack-api/pipeline/paste"
	"net/http"
	"regexp"
	"strings"
	"sync"

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

// troveAcceptVersion finds the version an Accept header asks for. It is
// compiled on first use, not at package initialisation: only a trove
// request without a version in its path needs it.
var troveAcceptVersion = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`application/vnd\.openstack\.trove(?:\+[^;]+?)?;version=(\d+\.?\d*)`)
})

// hasTroveURLVersion reports whether p names a version anywhere: "/v"
// followed by an ASCII digit (trove's regexp /v\d+\.?\d*, unanchored).
func hasTroveURLVersion(p string) bool {
	for {
		i := strings.Index(p, "/v")
		if i < 0 {
			return false
		}
		if i+2 < len(p) && '0' <= p[i+2] && p[i+2] <= '9' {
			return true
		}
		p = p[i+2:]
	}
}

type troveMap struct {
	m *novaMap // Paste matching: no route is a wildcard
}

// parseTroveKey reads a route key with Paste's grammar: trove has no
// wildcard routes.
func parseTroveKey(k string) (novaRoute, error) {
	key, err := paste.ParseRouteKey(k)
	if err != nil {
		return novaRoute{}, err
	}
	return novaRoute{domain: strings.ToLower(key.Domain), path: key.Path, sortLen: len(key.Path)}, nil
}

// TroveURLMapFactory is the "trove_urlmap" CompositeFactory.
func TroveURLMapFactory(ctx context.Context, c *pipeline.Config) (http.Handler, error) {
	m := &novaMap{}
	if err := m.load(ctx, c, parseTroveKey); err != nil {
		return nil, err
	}
	return &troveMap{m: m}, nil
}

func (t *troveMap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	script := ""
	if st := pipeline.RequestFrom(r); st != nil {
		script = st.ScriptName
	}
	if !hasTroveURLVersion(script + r.URL.Path) {
		if m := troveAcceptVersion().FindStringSubmatch(strings.Join(r.Header.Values("Accept"), ", ")); m != nil {
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
