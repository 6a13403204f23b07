// Package osprofiler accepts OpenStack's osprofiler WsgiMiddleware
// sections ("osprofiler.web:WsgiMiddleware.factory",
// "egg:osprofiler#osprofiler" and the projects' thin wrappers such as
// "nova.profiler:WsgiMiddleware.factory") so that real api-paste.ini files
// load unchanged.
//
// Upstream, the middleware passes every request through untouched while
// profiling is off, which is the case for every paste file in the corpus.
// vietstack-api has no profiler backend (no trace collector, no
// X-Trace-Info/X-Trace-HMAC handling), so it only implements that state:
// the filter hands requests on at no cost (X-Trace-* headers reach the
// application as they came), and "enabled = true" is a load error rather
// than a silent pretence of tracing.
//
// Note one deliberate difference: upstream reads the paste value of
// enabled as a raw string, so "enabled = false" is truthy in Python when
// the project's own [profiler] section leaves the switch unset. Here the
// value is parsed as an oslo boolean.
package osprofiler

import (
	"context"
	"net/http"

	"github.com/vietstack/vietstack-api/pipeline"
)

// Options are the options of the osprofiler filter.
type Options struct {
	Enabled  bool   `ini:"enabled" default:"false" doc:"must be false: vietstack-api has no profiler backend, so true is a load error"`
	HMACKeys string `ini:"hmac_keys" doc:"accepted for compatibility and unused (profiling is off); never printed"`

	_ struct{} `ini:"oslo_config_project,ignore" doc:"accepted for compatibility; no effect"`
	_ struct{} `ini:"oslo_config_file,ignore" doc:"accepted for compatibility; no effect"`
	_ struct{} `ini:"oslo_config_program,ignore" doc:"accepted for compatibility; no effect"`
}

// Aliases are the paste spellings of the osprofiler middleware found in
// OpenStack's api-paste.ini files: upstream's and the projects' wrappers,
// which only add project configuration around it.
var Aliases = []string{
	"osprofiler.web:WsgiMiddleware.factory",
	"egg:osprofiler#osprofiler",
	"nova.profiler:WsgiMiddleware.factory",
	"aodh.profiler:WsgiMiddleware.factory",
	"panko.profiler:WsgiMiddleware.factory",
	"cyborg.common.profiler:WsgiMiddleware.factory",
	"designate.common.profiler:WsgiMiddleware.factory",
	"magnum.common.profiler:WsgiMiddleware.factory",
	"zun.common.profiler:WsgiMiddleware.factory",
}

// Register registers the "osprofiler" filter and its Aliases in reg.
func Register(reg *pipeline.Registry) {
	reg.Filter("osprofiler", Factory, pipeline.Info{
		Doc:     "osprofiler WsgiMiddleware with profiling off: passes requests through; enabled = true is a load error (no profiler backend here)",
		Options: Options{},
	})
	for _, a := range Aliases {
		reg.Alias(a, "osprofiler")
	}
}

// Factory is the FilterFactory of osprofiler.
func Factory(ctx context.Context, c *pipeline.Config) (pipeline.Middleware, error) {
	var o Options
	if err := c.Decode(&o); err != nil {
		return nil, err
	}
	if o.Enabled {
		return nil, c.Errorf("enabled", "no profiler backend exists in vietstack-api, so requests cannot be traced; set enabled = false or remove the osprofiler filter")
	}
	return Middleware, nil
}

// Middleware returns next itself: with profiling off the filter costs
// nothing per request.
func Middleware(next http.Handler) http.Handler { return next }
