package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/vietstack/vietstack-api/pipeline/paste"
)

// Config is what a factory is given: its section's merged options (Paste's
// local_conf and global_conf) with their positions, a logger, and the hooks
// that tie it to the generation being built. A Config is only valid during
// the factory call; factories must not retain it.
type Config struct {
	// Name is the section the options come from, as "prefix:name"
	// ("filter:cors"); Factory is the factory string that selected the
	// factory ("egg:vietstack#cors", "oslo_middleware:CORS.factory").
	Name    string
	Factory string
	// Local holds the section's own options (Paste's local_conf), Global
	// the global conf (DEFAULT, here, __file__, set values, --global).
	Local  map[string]string
	Global map[string]string
	// Logger is the daemon's logger, with the section name attached.
	Logger *slog.Logger

	node *paste.Node
	b    *builder
	// closers are what OnClose registered on a Config outside a build.
	closers []func() error
}

// Errorf returns a positioned error about option key (or about the whole
// section when key is ""): "file:line: [section] key: message".
func (c *Config) Errorf(key, format string, args ...any) error {
	return c.errorf(key, fmt.Errorf(format, args...))
}

func (c *Config) errorf(key string, err error) *paste.Error {
	pos := paste.Pos{}
	if c.node != nil {
		pos = c.node.Pos
		if p, ok := c.node.KeyPos[key]; ok && key != "" {
			pos = p
		}
	}
	return &paste.Error{Pos: pos, Section: c.Name, Key: key, Err: err}
}

// OnClose registers fn to run when the generation this factory belongs to
// is retired (after a reload, at shutdown) or when the build fails. fn must
// stop background work and release OS resources but stay safe for a
// straggling request that still uses the object. Closers run in reverse
// order of registration.
//
// On a Config that is not part of a build (a factory called directly, as
// tests and programs embedding one factory do) the closers are kept by the
// Config itself, and its caller runs them with Close.
func (c *Config) OnClose(fn func() error) {
	if c.b != nil {
		c.b.closers = append(c.b.closers, fn)
		return
	}
	c.closers = append(c.closers, fn)
}

// Close runs, in reverse order of registration, the closers OnClose
// registered on a Config that is not part of a build, and returns their
// errors joined; a second call does nothing. Within a build the generation
// owns the closers and Close does nothing: Generation.Close runs them.
func (c *Config) Close() error {
	cs := c.closers
	c.closers = nil
	return runClosers(cs)
}

// LoadApp resolves and builds name as an application, as Paste's
// loader.get_app does for a composite: in the file that defines the
// composite, with its global conf. Only meaningful in a CompositeFactory.
func (c *Config) LoadApp(ctx context.Context, name string) (http.Handler, error) {
	if c.b == nil || c.node == nil {
		return nil, c.Errorf("", "LoadApp called outside a composite build")
	}
	child, err := c.node.LoadApp(name)
	if err != nil {
		return nil, err
	}
	return c.b.build(ctx, child)
}

// LoadFilter resolves and builds name as a filter in the composite's file
// with its global conf, as Paste's loader.get_filter does. Only meaningful
// in a CompositeFactory (pipeline selectors build "f1 f2 app" strings with
// it).
func (c *Config) LoadFilter(ctx context.Context, name string) (Middleware, error) {
	if c.b == nil || c.node == nil {
		return nil, c.Errorf("", "LoadFilter called outside a composite build")
	}
	chain, err := c.node.LoadFilter(name)
	if err != nil {
		return nil, err
	}
	return c.b.buildFilterChain(ctx, chain)
}

// ServerSettings are what a [server:NAME] section configures: where and how
// the daemon listens. The "http" server factory fills in its documented
// defaults (see DefaultServerSettings).
type ServerSettings struct {
	Host              string
	Port              int
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
	// ShutdownTimeout bounds how long in-flight requests may run after a
	// stop signal (graceful_shutdown_timeout).
	ShutdownTimeout time.Duration
	// ShutdownDelay is how long a stopping daemon keeps serving, its
	// healthchecks answering 503, before it closes the listener.
	ShutdownDelay time.Duration
	// RefuseDuringDelay closes the listener when the shutdown delay
	// starts instead of when it ends, so that new connections are
	// refused during the delay (refuse_during_delay).
	RefuseDuringDelay bool
	// MaxConnections caps the connections one process serves at once;
	// 0 lets the daemon derive the cap from its open-file limit.
	MaxConnections int
	// Workers is the number of processes sharing the listening socket
	// (1: the daemon serves by itself).
	Workers int
	// LogLevel is the log level the section sets ("" when it sets none);
	// unlike the other settings it is applied on every reload.
	LogLevel string
}
