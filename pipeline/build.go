package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

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
// returns their errors joined.
func (g *Generation) Close() error {
	var errs []error
	for i := len(g.closers) - 1; i >= 0; i-- {
		if err := g.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	g.closers = nil
	return errors.Join(errs...)
}

// BuildOptions carry what Build needs besides the graph.
type BuildOptions struct {
	Registry *Registry
	Logger   *slog.Logger // nil means slog.Default()
}

type builder struct {
	opts    BuildOptions
	closers []func() error
	errs    paste.List
}

func (b *builder) build(ctx context.Context, n *paste.Node) (http.Handler, error) {
	return nil, errors.New("not implemented")
}

func registerBuiltins(r *Registry) {}

// Build composes the graph g into one handler, calling each factory once
// per reference, at build time. It is all-or-nothing: when any factory
// fails, the closers registered so far run and every error found is
// returned (a paste.List of positioned errors).
func Build(ctx context.Context, g *paste.Graph, opts BuildOptions) (*Generation, error) {
	return nil, errors.New("not implemented")
}

// BuildServer decodes the server node of g (a graph loaded with
// paste.KindServer) with the registered server factory it names
// (egg:Paste#http, egg:vietstack#http).
func BuildServer(g *paste.Graph, opts BuildOptions) (*ServerSettings, error) {
	return nil, errors.New("not implemented")
}
