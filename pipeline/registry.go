package pipeline

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// Middleware wraps next and returns the handler that runs in front of it.
// In a pipeline "a b c app" the result is a(b(c(app))): the first listed
// filter is the outermost and sees the request first.
type Middleware = func(next http.Handler) http.Handler

// AppFactory builds an application from its section's configuration. It is
// called once per reference to the section, at build time, never per
// request. It must validate every option (through c.Decode) and return an
// error rather than panic. ctx is the build context: the factory may use it
// for start-up I/O but must not retain it.
type AppFactory func(ctx context.Context, c *Config) (http.Handler, error)

// FilterFactory builds a filter from its section's configuration, with the
// same contract as AppFactory. The Middleware it returns is applied once, at
// build time, and must only close over immutable, pre-computed state.
type FilterFactory func(ctx context.Context, c *Config) (Middleware, error)

// CompositeFactory builds an application that dispatches to other
// applications, which it resolves with c.LoadApp (Paste's
// paste.composite_factory protocol).
type CompositeFactory func(ctx context.Context, c *Config) (http.Handler, error)

// ServerFactory decodes a [server:NAME] section into the settings of the
// HTTP server that serves the pipeline.
type ServerFactory func(c *Config) (*ServerSettings, error)

// FactoryKind says which protocol a registered factory speaks.
type FactoryKind string

// The kinds of factories a Registry holds.
const (
	KindApp       FactoryKind = "app"
	KindFilter    FactoryKind = "filter"
	KindComposite FactoryKind = "composite"
	KindServer    FactoryKind = "server"
)

// Info documents a factory for --list-factories and the README.
type Info struct {
	// Doc is a one-line description.
	Doc string
	// Options is the zero value (or a pointer to it) of the options struct
	// the factory decodes with Config.Decode; its fields and tags are the
	// schema printed by --list-factories. Nil means "takes no options".
	Options any
}

// Factory is one registered factory. Exactly one of the function fields is
// set, according to Kind.
type Factory struct {
	Name      string
	Kind      FactoryKind
	Info      Info
	App       AppFactory
	Filter    FilterFactory
	Composite CompositeFactory
	Server    ServerFactory
	// Aliases are the other spellings (Python object references, eggs)
	// that name this factory, sorted.
	Aliases []string
}

// Registry maps factory names and their aliases to factories. It is filled
// once at start-up (apps.Register, filters.Register) and only read after
// that; reads are safe for concurrent use, registration is not.
//
// Registering an empty or duplicate name panics: that is a programming
// error found at start-up, never a configuration error.
type Registry struct {
	byName  map[string]*Factory
	aliases map[string][]string // normalised alias -> names (one per kind)
}

// NewRegistry returns a registry holding the built-ins that Paste itself
// provides: the "urlmap" composite (egg:Paste#urlmap) and the "http" server
// (egg:Paste#http).
func NewRegistry() *Registry {
	r := &Registry{byName: map[string]*Factory{}, aliases: map[string][]string{}}
	registerBuiltins(r)
	return r
}

func (r *Registry) add(f *Factory) {
	if f.Name == "" || strings.ContainsAny(f.Name, " \t#:") {
		panic(fmt.Sprintf("pipeline: bad factory name %q", f.Name))
	}
	if _, dup := r.byName[f.Name]; dup {
		panic(fmt.Sprintf("pipeline: factory %q registered twice", f.Name))
	}
	r.byName[f.Name] = f
}

// App registers an application factory under name.
func (r *Registry) App(name string, f AppFactory, info Info) {
	r.add(&Factory{Name: name, Kind: KindApp, App: f, Info: info})
}

// Filter registers a filter factory under name.
func (r *Registry) Filter(name string, f FilterFactory, info Info) {
	r.add(&Factory{Name: name, Kind: KindFilter, Filter: f, Info: info})
}

// Composite registers a composite factory under name.
func (r *Registry) Composite(name string, f CompositeFactory, info Info) {
	r.add(&Factory{Name: name, Kind: KindComposite, Composite: f, Info: info})
}

// Server registers a server factory under name.
func (r *Registry) Server(name string, f ServerFactory, info Info) {
	r.add(&Factory{Name: name, Kind: KindServer, Server: f, Info: info})
}

// Alias makes alias another spelling of the registered factory name. An
// alias is a factory string as it appears in a paste file:
// "egg:oslo.middleware#request_id", "oslo_middleware:RequestId.factory",
// "call:paste.urlmap:urlmap_factory". A "call:" prefix and spaces around
// ':' are ignored, and egg distribution names compare case-insensitively
// with runs of "-_." folded, as Python's packaging does. One alias may name
// one factory of each kind (egg:oslo.middleware#healthcheck is both an app
// and a filter); aliasing an unknown name, or an alias twice for one kind,
// panics.
func (r *Registry) Alias(alias, name string) {
	f, ok := r.byName[name]
	if !ok {
		panic(fmt.Sprintf("pipeline: alias %q of unknown factory %q", alias, name))
	}
	k := normalizeFactoryString(alias)
	for _, other := range r.aliases[k] {
		if r.byName[other].Kind == f.Kind {
			panic(fmt.Sprintf("pipeline: alias %q registered twice", alias))
		}
	}
	r.aliases[k] = append(r.aliases[k], name)
	f.Aliases = append(f.Aliases, alias)
	sort.Strings(f.Aliases)
}

// Lookup finds the factory a paste factory string names, preferring one of
// the wanted kinds (in order) when several share a spelling; with no wanted
// kinds any kind matches. It tries:
//
//   - an alias registered with Alias;
//   - "egg:vietstack#NAME" (or "egg:vietstack", meaning NAME "main") and a
//     plain registered NAME, as our own factories.
//
// It reports false when nothing matches.
func (r *Registry) Lookup(factory string, want ...FactoryKind) (*Factory, bool) {
	k := normalizeFactoryString(factory)
	if names, ok := r.aliases[k]; ok {
		for _, w := range want {
			for _, n := range names {
				if r.byName[n].Kind == w {
					return r.byName[n], true
				}
			}
		}
		return r.byName[names[0]], true
	}
	if strings.HasPrefix(k, "egg:") {
		dist, entry, _ := strings.Cut(k[len("egg:"):], "#")
		if entry == "" {
			entry = "main"
		}
		if dist == "vietstack" || dist == "vietstack-api" {
			f, ok := r.byName[entry]
			return f, ok
		}
		return nil, false
	}
	f, ok := r.byName[factory]
	return f, ok
}

// Names returns every registered factory name of kind k (all kinds when k
// is ""), sorted; used for "did you mean" suggestions and listings.
func (r *Registry) Names(k FactoryKind) []string {
	var out []string
	for n, f := range r.byName {
		if k == "" || f.Kind == k {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Factories returns every registered factory, sorted by kind then name.
func (r *Registry) Factories() []*Factory {
	out := make([]*Factory, 0, len(r.byName))
	for _, f := range r.byName {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// normalizeFactoryString canonicalises a factory string for alias lookup:
// a "call:" prefix is dropped (call:mod:obj and mod:obj name one object),
// spaces around ':' in object references are removed, and an egg's
// distribution name is lower-cased with runs of "-", "_" and "." folded
// to "-".
func normalizeFactoryString(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 5 && strings.EqualFold(s[:5], "call:") {
		s = s[5:] // call:mod:obj names the same object as mod:obj
	}
	if len(s) >= 4 && strings.EqualFold(s[:4], "egg:") {
		dist, entry, hasEntry := strings.Cut(s[4:], "#")
		d := foldDist(strings.TrimSpace(dist))
		if !hasEntry {
			return "egg:" + d
		}
		return "egg:" + d + "#" + strings.TrimSpace(entry)
	}
	if strings.Contains(s, ":") {
		parts := strings.Split(s, ":")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		return strings.Join(parts, ":")
	}
	return s
}

func foldDist(d string) string {
	var b strings.Builder
	prevSep := false
	for _, c := range strings.ToLower(d) {
		if c == '-' || c == '_' || c == '.' {
			if !prevSep {
				b.WriteByte('-')
			}
			prevSep = true
			continue
		}
		prevSep = false
		b.WriteRune(c)
	}
	return b.String()
}
