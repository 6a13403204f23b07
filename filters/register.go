// Package filters holds vietstack-api's filter factories (middleware), one
// subpackage per factory.
package filters

import (
	"github.com/vietstack/vietstack-api/filters/accesslog"
	"github.com/vietstack/vietstack-api/filters/authtoken"
	"github.com/vietstack/vietstack-api/filters/basicauth"
	"github.com/vietstack/vietstack-api/filters/cors"
	"github.com/vietstack/vietstack-api/filters/debuglog"
	"github.com/vietstack/vietstack-api/filters/faults"
	"github.com/vietstack/vietstack-api/filters/gzip"
	"github.com/vietstack/vietstack-api/filters/headers"
	"github.com/vietstack/vietstack-api/filters/ipfilter"
	"github.com/vietstack/vietstack-api/filters/keystonecontext"
	"github.com/vietstack/vietstack-api/filters/maintenance"
	"github.com/vietstack/vietstack-api/filters/metrics"
	"github.com/vietstack/vietstack-api/filters/noauth"
	"github.com/vietstack/vietstack-api/filters/osprofiler"
	"github.com/vietstack/vietstack-api/filters/passthrough"
	"github.com/vietstack/vietstack-api/filters/proxyheaders"
	"github.com/vietstack/vietstack-api/filters/ratelimit"
	"github.com/vietstack/vietstack-api/filters/requestid"
	"github.com/vietstack/vietstack-api/filters/sizelimit"
	"github.com/vietstack/vietstack-api/filters/timeout"
	"github.com/vietstack/vietstack-api/pipeline"
)

// Register registers every filter factory, with its aliases, in reg. The
// daemon calls it once at start-up; there are no init() side effects.
// The metrics filter and app get a new metrics.Registry of their own.
func Register(reg *pipeline.Registry) { RegisterWith(reg, metrics.NewRegistry()) }

// RegisterWith is Register with the metrics.Registry the metrics filter
// feeds and metrics_app serves, so that the caller can add its own
// collectors to the same exposition.
func RegisterWith(reg *pipeline.Registry, m *metrics.Registry) {
	accesslog.Register(reg)
	authtoken.Register(reg)
	basicauth.Register(reg)
	cors.Register(reg)
	debuglog.Register(reg)
	faults.Register(reg)
	gzip.Register(reg)
	headers.Register(reg)
	ipfilter.Register(reg)
	keystonecontext.Register(reg)
	maintenance.Register(reg)
	metrics.RegisterWith(reg, m)
	noauth.Register(reg)
	osprofiler.Register(reg)
	passthrough.Register(reg)
	proxyheaders.Register(reg)
	ratelimit.Register(reg)
	requestid.Register(reg)
	sizelimit.Register(reg)
	timeout.Register(reg)
}
