package paste

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"unicode"
)

// scope is the loader state a composite needs to resolve its children: the
// file that defines it, its global conf and the sections above it (for
// cycle detection across build-time lookups).
type scope struct {
	opts   Options
	loader *cfgLoader
	global *conf
	stack  []frame
	top    string
}

func newResolver(opts Options, top string) *resolver {
	return &resolver{opts: opts, cache: map[string]*source{}, top: top}
}

func (r *resolver) scopeFor(c *ctx) *scope {
	st := append(slices.Clone(r.stack), r.creating...)
	if c.pos.File != "" && c.section != "" {
		st = append(st, frame{file: c.pos.File, section: c.section})
	}
	if c.loader != nil {
		r.defaultsInterp(c.loader) // fill the cache now: a scope is read concurrently later
	}
	return &scope{opts: r.opts, loader: c.loader, global: c.global.copy(), stack: st, top: r.top}
}

// result returns the problems found, without repeats, as a List.
func (r *resolver) result() error {
	seen := map[string]bool{}
	var out List
	for _, e := range r.errs {
		s := e.Error()
		if seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, e)
	}
	return out.Err()
}

func (r *resolver) warnings() []*Warning {
	seen := map[string]bool{}
	var out []*Warning
	for _, w := range r.warns {
		s := w.Error()
		if !seen[s] {
			seen[s] = true
			out = append(out, w)
		}
	}
	return out
}

// Load reads the Paste Deploy file at path and resolves the entry point
// opts.Name of type opts.Kind into a graph, with Paste Deploy's semantics
// (paste-semantics.md) and the deliberate deviations of FORMAT.md §9.
//
// Factories are resolved permissively, as the oracle does: any egg, call:
// or explicit object reference is accepted, and only Paste's urlmap
// (egg:Paste#urlmap, paste.urlmap:urlmap_factory) is recognised and
// expanded. Whether a factory exists is the builder's business.
//
// With opts.ReadFile set, path need not exist on disk: it is only made
// absolute and handed to ReadFile, as are the paths of config: includes.
//
// On failure the error is a List of every problem found, each an *Error.
func Load(path string, opts Options) (*Graph, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, List{Errorf(Pos{File: path}, "", "", "OSError", "%v", err)}
	}
	r := newResolver(opts, abs)
	var t objType
	switch opts.Kind {
	case "", KindApp:
		t = otApp
	case KindServer:
		t = otServer
	case KindFilter:
		t = otFilter
	default:
		return nil, List{Errorf(Pos{File: abs}, "", "", "ValueError", "unknown kind %q (want app, server or filter)", opts.Kind)}
	}
	name := opts.Name
	if name == "" {
		name = "main"
	}
	var gin *conf
	if len(opts.Globals) > 0 {
		gin = newConf()
		keys := make([]string, 0, len(opts.Globals))
		for k := range opts.Globals {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			gin.set(k, opts.Globals[k])
		}
	}
	rf := ref{pos: Pos{File: abs}}
	var root *Node
	if l := r.open(abs, gin, rf); l != nil {
		if c := r.getContext(l, t, name, gin, rf); c != nil {
			if m, ok := r.create(c); ok {
				root = m.app
				if t == otFilter {
					root = wrap(m.chain, nil)
				}
			}
		}
	}
	if err := r.result(); err != nil {
		return nil, err
	}
	if root == nil {
		return nil, List{Errorf(Pos{File: abs}, "", "", "LookupError", "nothing loaded")}
	}
	return &Graph{Root: root, Files: r.files, Warnings: r.warnings(), dirs: r.dirs, top: abs}, nil
}

// LoadApp resolves name as an application in the file that defines the
// composite n, with n's global conf as the incoming globals, the way a
// Paste composite factory calls loader.get_app(name, global_conf). It is
// how generic composites reach their children at build time. A child that
// leads back to n (or to a composite above it) is a cycle error.
func (n *Node) LoadApp(name string) (*Node, error) {
	r, l, g, rf, err := n.childResolver(name)
	if err != nil {
		return nil, err
	}
	app, ok := r.getApp(l, name, g, rf)
	if err := r.result(); err != nil {
		return nil, err
	}
	if !ok || app == nil {
		return nil, List{Errorf(rf.pos, rf.section, rf.key, "LookupError", "cannot load %s", pyRepr(name))}
	}
	return app, nil
}

// LoadFilter resolves name as a filter in the file that defines the
// composite n, with n's global conf, as Paste's loader.get_filter does.
// The returned node is a TypeFilter chain whose innermost App is nil: the
// caller applies it to the app it composes.
func (n *Node) LoadFilter(name string) (*Node, error) {
	r, l, g, rf, err := n.childResolver(name)
	if err != nil {
		return nil, err
	}
	var chain []*Node
	ok := false
	if c := r.getContext(l, otFilter, name, g, rf); c != nil {
		var m made
		m, ok = r.create(c)
		chain = m.chain
	}
	if err := r.result(); err != nil {
		return nil, err
	}
	if !ok || len(chain) == 0 {
		return nil, List{Errorf(rf.pos, rf.section, rf.key, "LookupError", "cannot load filter %s", pyRepr(name))}
	}
	return wrap(chain, nil), nil
}

func (n *Node) childResolver(name string) (*resolver, *cfgLoader, *conf, ref, error) {
	rf := ref{pos: n.Pos, section: n.Section, path: n.Path}
	// Point at the option that names the child, when there is one.
	keys := make([]string, 0, len(n.Local))
	for k, v := range n.Local {
		if strings.Contains(v, name) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if p, ok := n.KeyPos[k]; ok {
			rf.pos, rf.key = p, k
			if slices.Contains(strings.Fields(n.Local[k]), name) || n.Local[k] == name {
				break
			}
		}
	}
	s := n.scope
	if s == nil || s.loader == nil {
		return nil, nil, nil, rf, List{Errorf(rf.pos, rf.section, rf.key, "LookupError",
			"cannot resolve %s: [%s] is not a composite defined in a configuration file", pyRepr(name), n.Section)}
	}
	r := newResolver(s.opts, s.top)
	r.stack = slices.Clone(s.stack)
	return r, s.loader, s.global.copy(), rf, nil
}

// WriteJSON writes g's root as the canonical graph-dump JSON of FORMAT.md
// (sorted keys, two-space indent, no HTML escaping, trailing newline), with
// paths relativised to the directory of the first file as FORMAT.md §5 says.
func (g *Graph) WriteJSON(w io.Writer) error {
	if g == nil || g.Root == nil {
		return errors.New("paste: empty graph")
	}
	rel := g.Relativizer()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(nodeJSON(g.Root, rel)); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func nodeJSON(n *Node, rel func(string) string) map[string]any {
	conf := func(m map[string]string) map[string]string {
		out := make(map[string]string, len(m))
		for k, v := range m {
			out[k] = rel(v)
		}
		return out
	}
	m := map[string]any{
		"type":    string(n.Type),
		"factory": n.Factory,
		"local":   conf(n.Local),
		"global":  conf(n.Global),
	}
	switch n.Type {
	case TypeFilter:
		if n.App != nil {
			m["app"] = nodeJSON(n.App, rel)
		}
	case TypeURLMap:
		routes := map[string]any{}
		order := []string{}
		for _, r := range n.Routes {
			routes[r.Key] = nodeJSON(r.Node, rel)
			order = append(order, r.Key)
		}
		m["routes"] = routes
		m["match_order"] = order
		if n.NotFound != nil {
			m["not_found"] = nodeJSON(n.NotFound, rel)
		}
	}
	return m
}

// Relativizer returns the path rewriting of FORMAT.md §5 for g: every
// occurrence of the directory of a file opened during the load is replaced
// by its path relative to the directory of the top-level file.
func (g *Graph) Relativizer() func(string) string {
	top := filepath.Dir(g.top)
	dirs := []string{top}
	for _, d := range g.dirs {
		if !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	for _, f := range g.Files {
		if d := filepath.Dir(f); !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	return relativizer(top, dirs)
}

func relativizer(top string, dirs []string) func(string) string {
	type rule struct{ dir, rel string }
	var rules []rule
	sort.SliceStable(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
	for _, d := range dirs {
		if d == "" || d == "/" {
			continue
		}
		rel, err := filepath.Rel(top, d)
		if err != nil {
			continue
		}
		rules = append(rules, rule{d, rel})
	}
	return func(s string) string {
		for _, ru := range rules {
			s = replaceDir(s, ru.dir, ru.rel)
		}
		return s
	}
}

// replaceDir rewrites occurrences of dir in s: "dir/" becomes "rel/" (or ""
// when rel is "."), and dir not followed by a name character becomes rel.
func replaceDir(s, dir, rel string) string {
	if !strings.Contains(s, dir) {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, dir)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		after := s[i+len(dir):]
		switch {
		case strings.HasPrefix(after, "/"):
			if rel != "." {
				b.WriteString(rel + "/")
			}
			s = after[1:]
		case after == "" || !isNameRune(after):
			b.WriteString(rel)
			s = after
		default:
			// not a match here; keep one byte and go on
			b.WriteString(s[i : i+1])
			s = s[i+1:]
		}
	}
}

func isNameRune(s string) bool {
	for _, r := range s {
		return r == '_' || r == '.' || r == '-' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Nd, r)
	}
	return false
}
