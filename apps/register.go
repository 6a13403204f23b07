// Package apps holds vietstack-api's application factories, one
// subpackage per factory.
package apps

import (
	"github.com/vietstack/vietstack-api/apps/boom"
	"github.com/vietstack/vietstack-api/apps/composites"
	"github.com/vietstack/vietstack-api/apps/echo"
	"github.com/vietstack/vietstack-api/apps/healthcheck"
	"github.com/vietstack/vietstack-api/apps/hello"
	"github.com/vietstack/vietstack-api/apps/proxy"
	"github.com/vietstack/vietstack-api/apps/static"
	"github.com/vietstack/vietstack-api/apps/text"
	"github.com/vietstack/vietstack-api/apps/versions"
	"github.com/vietstack/vietstack-api/pipeline"
)

// Option adjusts what Register gives the factories.
type Option func(*options)

type options struct {
	drain *healthcheck.Drain
}

// WithDrain ties every healthcheck to d: they report 503 while d is set,
// which the daemon does when it starts to stop.
func WithDrain(d *healthcheck.Drain) Option { return func(o *options) { o.drain = d } }

// Register registers every application factory, with its aliases, in reg.
// The daemon calls it once at start-up; there are no init() side effects.
func Register(reg *pipeline.Registry, opts ...Option) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	boom.Register(reg)
	composites.Register(reg)
	echo.Register(reg)
	healthcheck.Register(reg, healthcheck.WithDrain(o.drain))
	hello.Register(reg)
	proxy.Register(reg)
	static.Register(reg)
	text.Register(reg)
	versions.Register(reg)
}
