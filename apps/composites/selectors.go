// Package composites provides the composite factories OpenStack projects
// use in their api-paste.ini files on top of Paste's own urlmap:
//
//   - pipeline_by_auth_strategy: nova/cinder/neutron/... pipeline_factory,
//     a pipeline chosen by the service's auth_strategy;
//   - pipeline_by_flavor: glance's and heat's pipeline_factory, a pipeline
//     chosen by the deployment flavor;
//   - nova_urlmap: nova's urlmap_factory, Paste's urlmap plus "/+"
//     wildcard routes and API version selection by media type;
//   - trove_urlmap: trove's versioned_urlmap, Paste's urlmap plus version
//     selection by the Accept header (406 for an unknown version).
//
// The selectors only build the pipeline they select: the others may name
// filters that do not exist here without any error, as in Python.
package composites

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strings"

	"github.com/vietstack/vietstack-api/pipeline"
)

// Loader resolves the elements of a pipeline string. *pipeline.Config
// implements it for a composite being built.
type Loader interface {
	LoadApp(ctx context.Context, name string) (http.Handler, error)
	LoadFilter(ctx context.Context, name string) (pipeline.Middleware, error)
}

// Compose builds the pipeline string spec ("f1 f2 app", as in a
// [pipeline:] section) with l: every name but the last is loaded as a
// filter, the last as an application, and the first filter ends up
// outermost. Filters are loaded before the app, as Paste's pipeline_factory
// copies do. Every element is tried, so that all problems are reported
// together (joined).
func Compose(ctx context.Context, l Loader, spec string) (http.Handler, error) {
	names := strings.Fields(spec)
	if len(names) == 0 {
		return nil, errors.New("empty pipeline")
	}
	var errs []error
	mws := make([]pipeline.Middleware, 0, len(names)-1)
	for _, n := range names[:len(names)-1] {
		mw, err := l.LoadFilter(ctx, n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		mws = append(mws, mw)
	}
	h, err := l.LoadApp(ctx, names[len(names)-1])
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h, nil
}

// AuthStrategyOptions document what pipeline_by_auth_strategy reads. They
// come from the global conf ([DEFAULT] of the paste file, or the daemon's
// --global flags), not from the section: every key of the section is the
// name of an alternative pipeline ("keystone = cors ... authtoken
// keystonecontext app", "noauth2 = ...").
type AuthStrategyOptions struct {
	AuthStrategy string `ini:"auth_strategy" default:"keystone" doc:"(global) the section key whose pipeline is built"`
	APIRateLimit bool   `ini:"api_rate_limit" default:"true" doc:"(global) false prefers the key AUTH_STRATEGY_nolimit when present; nova's spellings default to false, as nova does"`
}

// FlavorOptions document what pipeline_by_flavor reads, from the global
// conf like AuthStrategyOptions: each key of the section is a pipeline.
type FlavorOptions struct {
	Flavor string `ini:"flavor" default:"default" doc:"(global) the section key whose pipeline is built (glance/heat [paste_deploy] flavor)"`
}

// AuthStrategyAliases are the project spellings of pipeline_by_auth_strategy.
var AuthStrategyAliases = []string{
	"call:nova.api.auth:pipeline_factory",
	"call:nova.api.auth:pipeline_factory_v21",
	"call:cinder.api.middleware.auth:pipeline_factory",
	"call:neutron.auth:pipeline_factory",
	"call:manila.api.middleware.auth:pipeline_factory",
	"call:masakari.api.auth:pipeline_factory_v1",
	"call:tacker.auth:pipeline_factory",
	"call:karbor.api.middleware.auth:pipeline_factory",
	"call:congress.auth:pipeline_factory",
	"call:designate.api.middleware:auth_pipeline_factory",
	"call:ec2api.api.auth:pipeline_factory",
}

// FlavorAliases are the project spellings of pipeline_by_flavor.
var FlavorAliases = []string{
	"glance.api:pipeline_factory",
	"heat.api:pipeline_factory",
}

// AuthStrategyFactory is the "pipeline_by_auth_strategy" CompositeFactory.
func AuthStrategyFactory(ctx context.Context, c *pipeline.Config) (http.Handler, error) {
	strategy := strings.TrimSpace(c.Global["auth_strategy"])
	if strategy == "" {
		strategy = "keystone"
	}
	limit := !strings.Contains(c.Factory, "nova.api.auth:")
	if v, ok := c.Global["api_rate_limit"]; ok {
		b, err := pipeline.ParseBool(v)
		if err != nil {
			return nil, c.Errorf("", "global api_rate_limit: %v", err)
		}
		limit = b
	}
	key := strategy
	if _, ok := c.Local[strategy+"_nolimit"]; ok && !limit {
		key = strategy + "_nolimit"
	}
	return selectPipeline(ctx, c, key, "auth_strategy")
}

// FlavorFactory is the "pipeline_by_flavor" CompositeFactory.
func FlavorFactory(ctx context.Context, c *pipeline.Config) (http.Handler, error) {
	flavor := strings.TrimSpace(c.Global["flavor"])
	if flavor == "" {
		flavor = "default"
	}
	return selectPipeline(ctx, c, flavor, "flavor")
}

// selectPipeline builds the pipeline of local key key, which the global
// option by selected.
func selectPipeline(ctx context.Context, c *pipeline.Config, key, by string) (http.Handler, error) {
	spec, ok := c.Local[key]
	if !ok {
		have := make([]string, 0, len(c.Local))
		for k := range c.Local {
			have = append(have, k)
		}
		sort.Strings(have)
		return nil, c.Errorf("", "no pipeline for %s %q (this section has: %s); select one with --global %s=NAME",
			by, key, strings.Join(have, ", "), by)
	}
	if strings.TrimSpace(spec) == "" {
		return nil, c.Errorf(key, "empty pipeline")
	}
	h, err := Compose(ctx, c, spec)
	if err != nil {
		return nil, err
	}
	return h, nil
}

// Register registers the composites of this package and their aliases.
func Register(reg *pipeline.Registry) {
	reg.Composite("pipeline_by_auth_strategy", AuthStrategyFactory, pipeline.Info{
		Doc:     "nova/cinder/neutron pipeline_factory: builds the section's pipeline named by the global auth_strategy (default keystone)",
		Options: AuthStrategyOptions{},
	})
	for _, a := range AuthStrategyAliases {
		reg.Alias(a, "pipeline_by_auth_strategy")
	}
	reg.Composite("pipeline_by_flavor", FlavorFactory, pipeline.Info{
		Doc:     "glance/heat pipeline_factory: builds the section's pipeline named by the global flavor (default \"default\")",
		Options: FlavorOptions{},
	})
	for _, a := range FlavorAliases {
		reg.Alias(a, "pipeline_by_flavor")
	}
	reg.Composite("nova_urlmap", NovaURLMapFactory, pipeline.Info{
		Doc:     "nova's urlmap: Paste's urlmap plus /path/+ wildcard routes and API version by Content-Type/Accept version=",
		Options: NovaURLMapOptions{},
	})
	for _, a := range NovaURLMapAliases {
		reg.Alias(a, "nova_urlmap")
	}
	reg.Composite("trove_urlmap", TroveURLMapFactory, pipeline.Info{
		Doc:     "trove's versioned_urlmap: Paste's urlmap, plus an unversioned path sent to /vV by Accept ...trove...;version=V (406 when no such route)",
		Options: TroveURLMapOptions{},
	})
	for _, a := range TroveURLMapAliases {
		reg.Alias(a, "trove_urlmap")
	}
}
