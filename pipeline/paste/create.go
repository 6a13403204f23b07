package paste

import (
	"maps"
	"slices"
	"strings"
)

// made is what creating a context gives: an application (or server) node,
// or a filter, which is a chain of filter nodes, outermost first, still to
// be applied to an application.
type made struct {
	app   *Node
	chain []*Node
}

// wrap applies a filter chain to app: chain[0] becomes the outermost node.
func wrap(chain []*Node, app *Node) *Node {
	for i := len(chain) - 1; i >= 0; i-- {
		chain[i].App = app
		app = chain[i]
	}
	return app
}

func (r *resolver) node(c *ctx, t Type, p Protocol) *Node {
	if p == protoComposit {
		p = ProtoComposite // the same protocol under its misspelt alias
	}
	return &Node{
		Type:     t,
		Factory:  c.factory,
		Protocol: p,
		Local:    c.local.clone(),
		Global:   c.global.clone(),
		Section:  c.section,
		Pos:      c.pos,
		KeyPos:   maps.Clone(c.keyPos),
		Path:     slices.Clone(c.path),
	}
}

// create turns a context into nodes, the way LoaderContext.create calls
// the factories; composites resolve their children here.
func (r *resolver) create(c *ctx) (made, bool) {
	switch c.kind {
	case ckPipeline:
		app, ok := r.create(c.app)
		chains := make([][]*Node, len(c.filters))
		for i, f := range c.filters {
			m, fok := r.create(f)
			ok = ok && fok
			chains[i] = m.chain
		}
		if !ok {
			return made{}, false
		}
		a := app.app
		for i := len(chains) - 1; i >= 0; i-- {
			a = wrap(chains[i], a)
		}
		return made{app: a}, true
	case ckFilterApp:
		next, ok := r.create(c.next)
		f, fok := r.create(c.filter)
		if !ok || !fok {
			return made{}, false
		}
		return made{app: wrap(f.chain, next.app)}, true
	case ckFilterWith:
		f, ok := r.create(c.filter)
		inner, iok := r.create(c.next)
		if !ok || !iok {
			return made{}, false
		}
		if c.ot == otApp {
			// Deviation (FORMAT.md §9.1): applied to any application.
			return made{app: wrap(f.chain, inner.app)}, true
		}
		return made{chain: append(f.chain, inner.chain...)}, true
	}
	p := c.protocol
	switch c.ot {
	case otApp:
		switch p {
		case "":
			// Deviation (FORMAT.md §9.5): a call: target outside `use`.
			p = ProtoApp
			fallthrough
		case ProtoApp:
			return made{app: r.node(c, TypeApp, p)}, true
		case ProtoComposite, protoComposit:
			if c.urlmap {
				n, ok := r.createURLMap(c, p)
				return made{app: n}, ok
			}
			n := r.node(c, TypeComposite, p)
			n.scope = r.scopeFor(c)
			return made{app: n}, true
		}
	case otFilter:
		switch p {
		case "":
			p = ProtoFilter
			fallthrough
		case ProtoFilter, ProtoFilterApp:
			return made{chain: []*Node{r.node(c, TypeFilter, p)}}, true
		}
	case otServer:
		switch p {
		case "":
			p = ProtoServer
			fallthrough
		case ProtoServer, ProtoRunner:
			return made{app: r.node(c, TypeServer, p)}, true
		}
	}
	r.fail(Errorf(c.pos, c.section, "", "AssertionError", "Protocol %s unknown for %s %s", pyRepr(string(p)), article(c.ot), pyRepr(c.factory)))
	return made{}, false
}

// createURLMap is Paste's urlmap_factory: not_found_app, then every other
// local key as a route, resolved in the composite's own file.
func (r *resolver) createURLMap(c *ctx, p Protocol) (*Node, bool) {
	n := r.node(c, TypeURLMap, p)
	n.Local = map[string]string{}
	local := c.local.copy()
	keyRef := func(k string) ref {
		pos, ok := c.keyPos[k]
		if !ok {
			pos = c.pos
		}
		return ref{pos: pos, section: c.section, key: k, path: c.path}
	}
	if c.loader == nil {
		if _, nf := c.global.get("not_found_app"); local.len() == 0 && !nf {
			return n, true // nothing to resolve
		}
		r.failAt(ref{pos: c.pos, section: c.section, path: c.path}, "LookupError",
			"%s has no configuration file to resolve its routes in; use it from a [composite:NAME] section", c.factory)
		return nil, false
	}
	fr := frame{file: c.pos.File, section: c.section}
	if fr.file == "" {
		fr.file = c.loader.path
	}
	// A urlmap whose routes lead back to itself: Paste recurses while
	// creating it (its context alone is harmless, so this is checked here
	// and not while building contexts).
	if slices.Contains(r.creating, fr) {
		p := c.path
		if i := slices.Index(p, c.section); i >= 0 {
			p = p[i:]
		}
		rf := c.from
		if rf.pos.File == "" {
			rf = ref{pos: c.pos, section: c.section}
		}
		r.failAt(rf, "Cycle", "reference cycle: %s", strings.Join(p, " -> "))
		return nil, false
	}
	if len(r.creating) >= maxDepth {
		r.failAt(ref{pos: c.pos, section: c.section}, "RecursionError", "composites nested more than %d deep", maxDepth)
		return nil, false
	}
	r.creating = append(r.creating, fr)
	defer func() { r.creating = r.creating[:len(r.creating)-1] }()

	ok := true
	nf, had := local.pop("not_found_app")
	nfRef := keyRef("not_found_app")
	if had {
		n.Local["not_found_app"] = nf
	} else {
		nf, _ = c.global.get("not_found_app")
	}
	if nf != "" {
		n.NotFound, ok = r.getApp(c.loader, nf, c.global, nfRef)
	}
	type entry struct {
		key  urlmapKey
		node *Node
		pos  Pos
	}
	var entries []entry
	for _, k := range local.keys {
		v := local.m[k]
		rf := keyRef(k)
		if h := urlmapHint(k, v); h != "" {
			r.failAt(rf, "LookupError", "No section %s (prefixed by %s) found%s; %s",
				pyRepr(v), prefixList(otApp), inConfig(rf, c.loader), h)
			ok = false
			continue
		}
		url, err := parsePathExpression(k)
		if err != nil {
			r.failAt(rf, "ValueError", "bad urlmap key: %v; write [domain HOST [port N]] [/PATH] = APP", err)
			ok = false
		}
		app, aok := r.getApp(c.loader, v, c.global, rf)
		if err != nil || !aok {
			ok = false
			continue
		}
		key, err := normalizeURL(url)
		if err != nil {
			r.failAt(rf, "AssertionError", "%v; a urlmap key is a path such as /v2, optionally after 'domain HOST'", err)
			ok = false
			continue
		}
		if i := slices.IndexFunc(entries, func(e entry) bool { return e.key == key }); i >= 0 {
			r.warn(rf.pos, "urlmap route %s in [%s] replaces the one at line %d, which normalises to the same key",
				pyRepr(k), c.section, entries[i].pos.Line)
			entries = slices.Delete(entries, i, i+1)
		}
		entries = append(entries, entry{key, app, rf.pos})
	}
	if !ok {
		return nil, false
	}
	keys := make([]urlmapKey, len(entries))
	for i, e := range entries {
		keys[i] = e.key
	}
	sortRoutes(keys)
	for _, k := range keys {
		i := slices.IndexFunc(entries, func(e entry) bool { return e.key == k })
		e := entries[i]
		n.Routes = append(n.Routes, Route{
			Key:    k.display(),
			Domain: strings.ToLower(k.domain),
			Path:   k.path,
			Node:   e.node,
			Pos:    e.pos,
		})
	}
	return n, true
}

// getApp is loader.get_app: resolve and create name as an application.
func (r *resolver) getApp(l *cfgLoader, name string, global *conf, rf ref) (*Node, bool) {
	c := r.getContext(l, otApp, name, global, rf)
	if c == nil {
		return nil, false
	}
	m, ok := r.create(c)
	if !ok {
		return nil, false
	}
	return m.app, true
}
