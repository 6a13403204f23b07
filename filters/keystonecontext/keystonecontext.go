// Package keystonecontext provides the "keystonecontext" filter, the Go
// counterpart of nova's NovaKeystoneContext and its copies in cinder,
// neutron, manila and others: it turns the identity that an auth filter in
// front of it established into the request context later filters and the
// app read (pipeline.Request.Identity), and answers 401 when there is none.
//
// By default the identity must have been established by an auth filter of
// this pipeline (auth_token, noauth): client-sent identity headers are
// forgeable and are never read. With trust_headers = true the filter reads
// the identity headers (X-User-Id or X-User, X-Project-Id or X-Tenant-Id,
// X-Roles, ...) when no auth filter established an identity; only enable
// it behind a trusted front end that authenticates callers and removes
// client-sent identity headers.
//
// A request is refused with 401 when it carries X-Identity-Status other
// than Confirmed (an auth filter with delay_auth_decision let an invalid
// token through), or when no identity with a user id is found.
package keystonecontext

import (
	"context"
	"net/http"

	"github.com/vietstack/vietstack-api/filters/identity"
	"github.com/vietstack/vietstack-api/pipeline"
)

// Options configure the keystonecontext filter.
type Options struct {
	TrustHeaders bool `ini:"trust_headers" default:"false" doc:"read the identity headers when no auth filter of this pipeline established an identity (only behind a trusted authenticating front end)"`
}

// Aliases are the project spellings of the keystone context filters that
// "keystonecontext" stands for.
var Aliases = []string{
	"nova.api.auth:NovaKeystoneContext.factory",
	"cinder.api.middleware.auth:CinderKeystoneContext.factory",
	"neutron.auth:NeutronKeystoneContext.factory",
	"manila.api.middleware.auth:ManilaKeystoneContext.factory",
	"masakari.api.auth:MasakariKeystoneContext.factory",
	"karbor.api.middleware.auth:KarborKeystoneContext.factory",
	"congress.auth:CongressKeystoneContext.factory",
	"tacker.auth:TackerKeystoneContext.factory",
	"designate.api.middleware:KeystoneContextMiddleware.factory",
}

// Register registers "keystonecontext" and its aliases in reg.
func Register(reg *pipeline.Registry) {
	reg.Filter("keystonecontext", Factory, pipeline.Info{
		Doc:     "requires the identity an earlier auth filter established (401 without it) and exposes it to later filters and the app",
		Options: Options{},
	})
	for _, a := range Aliases {
		reg.Alias(a, "keystonecontext")
	}
}

// Factory is the "keystonecontext" FilterFactory.
func Factory(_ context.Context, c *pipeline.Config) (pipeline.Middleware, error) {
	var o Options
	if err := c.Decode(&o); err != nil {
		return nil, err
	}
	return New(o), nil
}

// New returns the keystonecontext middleware for o.
func New(o Options) pipeline.Middleware {
	return func(next http.Handler) http.Handler {
		return &filter{trust: o.TrustHeaders, next: next}
	}
}

type filter struct {
	trust bool
	next  http.Handler
}

// ReadsIdentityHeaders reports whether the filter or its next handler reads
// the identity headers of an authenticated caller: the filter itself only
// with trust_headers (it otherwise takes the caller from
// pipeline.Request.Identity).
func (f *filter) ReadsIdentityHeaders() bool {
	return f.trust || pipeline.ReadsIdentityHeaders(f.next)
}

func (f *filter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s, ok := r.Header[identity.Status]; ok && (len(s) != 1 || s[0] != identity.Confirmed) {
		identity.Unauthorized(w)
		return
	}
	st := pipeline.RequestFrom(r)
	var id *pipeline.Identity
	if st != nil {
		id = st.Identity
	}
	if id == nil && f.trust {
		if hid, ok := identity.FromHeaders(r.Header); ok {
			id = hid
			if st != nil {
				st.Identity = id
			}
		}
	}
	if id == nil || id.UserID == "" {
		identity.Unauthorized(w)
		return
	}
	f.next.ServeHTTP(w, r)
}
