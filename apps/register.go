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

// Register registers every application factory, with its aliases, in reg.
// The daemon calls it once at start-up; there are no init() side effects.
func Register(reg *pipeline.Registry) {
	boom.Register(reg)
	composites.Register(reg)
	echo.Register(reg)
	healthcheck.Register(reg)
	hello.Register(reg)
	proxy.Register(reg)
	static.Register(reg)
	text.Register(reg)
	versions.Register(reg)
}
