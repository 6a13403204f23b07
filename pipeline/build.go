package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/vietstack/vietstack-api/pipeline/paste"
)

// Generation is one composed pipeline: the handler built from a graph and
// the resources its factories opened. It is immutable; a Switch serves one
// generation at a time.
type Generation struct {
	// Handler is the composed pipeline, with the Root state in front.
	Handler http.Handler
	// Graph is the graph the generation was built from.
	Graph *paste.Graph
	// Server is the decoded [server:*] section, or nil when none was built.
	Server  *ServerSettings
	closers []func() error
}

// Close runs the closers the factories registered, in reverse order, and
// returns their errors joined. It is not safe to call concurrently, and a
// second call does nothing.
func (g *Generation) Close() error {
	cs := g.closers
	g.closers = nil
	return runClosers(cs)
}

func runClosers(cs []func() error) error {
	var errs []error
	for i := len(cs) - 1; i >= 0; i-- {
		if err := cs[i](); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// BuildOptions carry what Build needs besides the graph.
type BuildOptions struct {
	// Registry resolves factory strings; required.
	Registry *Registry
	// Logger is handed to factories with the section attached; nil means
	// slog.Default().
	Logger *slog.Logger
}

type builder struct {
	opts    BuildOptions
	log     *slog.Logger
	closers []func() error
	errs    paste.List
}

// Build composes the graph g into one handler, calling each factory once
// per reference, at build time: a filter named by three pipelines is built
// three times, as Paste does. The first filter of a pipeline is the
// outermost. The result's Handler starts with Root, which attaches the
// per-request state.
//
// Build is all-or-nothing: it goes on after a failing factory to find
// every other problem, then runs the closers registered so far and returns
// all errors as a paste.List of positioned errors. A factory that panics is
// reported as an error, never crashes the caller.
func Build(ctx context.Context, g *paste.Graph, opts BuildOptions) (*Generation, error) {
	if g == nil || g.Root == nil {
		return nil, errors.New("build: empty graph")
	}
	if opts.Registry == nil {
		return nil, errors.New("build: no registry")
	}
	b := newBuilder(opts)
	if g.Root.Type == paste.TypeServer {
		return nil, &paste.Error{Pos: g.Root.Pos, Section: g.Root.Section, Err: errors.New("a server section cannot be served as an application")}
	}
	h := b.node(ctx, g.Root)
	if len(b.errs) > 0 {
		_ = runClosers(b.closers)
		return nil, b.errs
	}
	return &Generation{Handler: &root{next: h, log: b.log}, Graph: g, closers: b.closers}, nil
}

// BuildServer decodes the server node of g (a graph loaded with
// paste.KindServer) with the registered server factory it names
// (egg:Paste#http, egg:vietstack#http).
func BuildServer(g *paste.Graph, opts BuildOptions) (*ServerSettings, error) {
	if g == nil || g.Root == nil {
		return nil, errors.New("build: empty graph")
	}
	if opts.Registry == nil {
		return nil, errors.New("build: no registry")
	}
	b := newBuilder(opts)
	n := g.Root
	f, err := b.lookup(n, "server", KindServer)
	if err != nil {
		return nil, paste.List{err}
	}
	c := b.config(n)
	var s *ServerSettings
	err = b.guard(n, func() (err error) {
		s, err = f.Server(c)
		return err
	})
	if err != nil {
		return nil, paste.List{err}
	}
	return s, nil
}

func newBuilder(opts BuildOptions) *builder {
	l := opts.Logger
	if l == nil {
		l = slog.Default()
	}
	return &builder{opts: opts, log: l}
}

// build builds n as a sub-graph (for Config.LoadApp): its errors are
// returned rather than recorded, so the composite that asked decides.
func (b *builder) build(ctx context.Context, n *paste.Node) (http.Handler, error) {
	saved := b.errs
	b.errs = nil
	h := b.node(ctx, n)
	errs := b.errs
	b.errs = saved
	if len(errs) > 0 {
		return nil, errs
	}
	return h, nil
}

// buildFilterChain builds a filter chain whose innermost App is nil (from
// Node.LoadFilter) into one Middleware, outermost first.
func (b *builder) buildFilterChain(ctx context.Context, n *paste.Node) (Middleware, error) {
	saved := b.errs
	b.errs = nil
	var mws []Middleware
	for f := n; f != nil; f = f.App {
		if f.Type != paste.TypeFilter {
			b.errs = append(b.errs, &paste.Error{Pos: f.Pos, Section: f.Section, Err: fmt.Errorf("expected a filter, got %s", f.Type)})
			break
		}
		if mw := b.filter(ctx, f); mw != nil {
			mws = append(mws, mw)
		}
	}
	errs := b.errs
	b.errs = saved
	if len(errs) > 0 {
		return nil, errs
	}
	return func(h http.Handler) http.Handler {
		for i := len(mws) - 1; i >= 0; i-- {
			h = mws[i](h)
		}
		return h
	}, nil
}

// node builds n, recording problems in b.errs; it returns nil on failure.
func (b *builder) node(ctx context.Context, n *paste.Node) http.Handler {
	if err := ctx.Err(); err != nil {
		b.errs = append(b.errs, &paste.Error{Pos: n.Pos, Section: n.Section, Err: fmt.Errorf("build cancelled: %w", err)})
		return nil
	}
	switch n.Type {
	case paste.TypeFilter:
		mw := b.filter(ctx, n)
		if n.App == nil {
			b.errs = append(b.errs, &paste.Error{Pos: n.Pos, Section: n.Section, Err: errors.New("filter has nothing to wrap")})
			return nil
		}
		inner := b.node(ctx, n.App)
		if mw == nil || inner == nil {
			return nil
		}
		var h http.Handler
		if err := b.guard(n, func() error {
			h = mw(inner)
			if h == nil {
				return errors.New("filter returned a nil handler")
			}
			return nil
		}); err != nil {
			b.errs = append(b.errs, err)
			return nil
		}
		return h
	case paste.TypeURLMap:
		return b.urlmap(ctx, n)
	case paste.TypeApp, paste.TypeComposite:
		want := []FactoryKind{KindApp, KindComposite}
		if n.Type == paste.TypeComposite || n.Protocol == paste.ProtoComposite {
			want = []FactoryKind{KindComposite, KindApp}
		}
		f, err := b.lookup(n, "app", want...)
		if err != nil {
			b.errs = append(b.errs, err)
			return nil
		}
		c := b.config(n)
		var h http.Handler
		err = b.guard(n, func() (err error) {
			if f.Kind == KindComposite {
				h, err = f.Composite(ctx, c)
			} else {
				h, err = f.App(ctx, c)
			}
			if err == nil && h == nil {
				err = errors.New("factory returned a nil handler")
			}
			return err
		})
		if err != nil {
			b.errs = append(b.errs, err)
			return nil
		}
		return h
	default:
		b.errs = append(b.errs, &paste.Error{Pos: n.Pos, Section: n.Section, Err: fmt.Errorf("a %s cannot be used as an application", n.Type)})
		return nil
	}
}

func (b *builder) filter(ctx context.Context, n *paste.Node) Middleware {
	f, err := b.lookup(n, "filter", KindFilter)
	if err != nil {
		b.errs = append(b.errs, err)
		return nil
	}
	c := b.config(n)
	var mw Middleware
	err = b.guard(n, func() (err error) {
		mw, err = f.Filter(ctx, c)
		if err == nil && mw == nil {
			err = errors.New("factory returned a nil filter")
		}
		return err
	})
	if err != nil {
		b.errs = append(b.errs, err)
		return nil
	}
	return mw
}

func (b *builder) urlmap(ctx context.Context, n *paste.Node) http.Handler {
	m := &urlMap{}
	ok := true
	for _, r := range n.Routes {
		h := b.node(ctx, r.Node)
		if h == nil {
			ok = false
			continue
		}
		m.routes = append(m.routes, mapRoute{domain: r.Domain, path: r.Path, h: h})
	}
	if n.NotFound != nil {
		m.notFound = b.node(ctx, n.NotFound)
		ok = ok && m.notFound != nil
	}
	if !ok {
		return nil
	}
	m.init()
	return m
}

// guard runs a factory call, turning a returned error into a positioned
// one (unless it already is) and a panic into an error.
func (b *builder) guard(n *paste.Node, call func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			b.log.Error("factory panicked", "section", n.Section, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = &paste.Error{Pos: n.Pos, Section: n.Section, Err: fmt.Errorf("factory %q panicked: %v", n.Factory, p)}
		}
	}()
	err = call()
	if err == nil {
		return nil
	}
	var pe *paste.Error
	var pl paste.List
	if errors.As(err, &pe) || errors.As(err, &pl) {
		return err
	}
	return &paste.Error{Pos: n.Pos, Section: n.Section, Err: err}
}

func (b *builder) config(n *paste.Node) *Config {
	return &Config{
		Name:    n.Section,
		Factory: n.Factory,
		Local:   maps.Clone(n.Local),
		Global:  maps.Clone(n.Global),
		Logger:  b.log.With("section", n.Section),
		node:    n,
		b:       b,
	}
}

// lookup resolves n's factory string to a registered factory of one of
// the wanted kinds, or returns a positioned error with a suggestion.
func (b *builder) lookup(n *paste.Node, role string, want ...FactoryKind) (*Factory, error) {
	reg := b.opts.Registry
	pos := factoryPos(n)
	f, ok := reg.Lookup(n.Factory, want...)
	if ok {
		for _, w := range want {
			if f.Kind == w {
				return f, nil
			}
		}
		return nil, &paste.Error{Pos: pos, Section: n.Section, Key: factoryKey(n),
			Err: fmt.Errorf("factory %q is a %s factory, but this place needs %s", n.Factory, f.Kind, article(string(want[0])))}
	}
	msg := fmt.Sprintf("no %s factory %q", role, n.Factory)
	var cands []string
	entry := n.Factory
	if strings.HasPrefix(strings.ToLower(entry), "egg:") {
		if _, e, ok := strings.Cut(entry, "#"); ok {
			entry = e
		}
		for _, w := range want {
			cands = append(cands, reg.Names(w)...)
		}
		if s := Suggest(entry, cands); s != "" {
			msg += fmt.Sprintf("; did you mean \"egg:vietstack#%s\"?", s)
		} else if dist, _, _ := strings.Cut(strings.TrimPrefix(strings.ToLower(n.Factory), "egg:"), "#"); foldDist(dist) != "vietstack" {
			msg += " (not one of the built-ins; see --list-factories)"
		}
	} else {
		for _, w := range want {
			for _, name := range reg.Names(w) {
				cands = append(cands, reg.byName[name].Aliases...)
			}
		}
		sort.Strings(cands)
		if s := Suggest(n.Factory, cands); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		} else {
			msg += " (not one of the built-ins; see --list-factories)"
		}
	}
	return nil, &paste.Error{Pos: pos, Section: n.Section, Key: factoryKey(n), Err: errors.New(msg)}
}

func article(s string) string {
	if s != "" && strings.ContainsRune("aeiou", rune(s[0])) {
		return "an " + s
	}
	return "a " + s
}

// factoryKeys are the keys that can name a factory, in the order Paste
// considers them.
var factoryKeys = []string{"use", "paste.app_factory", "paste.composite_factory", "paste.composit_factory",
	"paste.filter_factory", "paste.filter_app_factory", "paste.server_factory", "paste.server_runner"}

func factoryKey(n *paste.Node) string {
	for _, k := range factoryKeys {
		if _, ok := n.KeyPos[k]; ok {
			return k
		}
	}
	return ""
}

func factoryPos(n *paste.Node) paste.Pos {
	if k := factoryKey(n); k != "" {
		return n.KeyPos[k]
	}
	return n.Pos
}
