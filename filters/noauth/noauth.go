// Package noauth provides the "noauth" filter: nova's noauth2 development
// authentication. The token is not checked against anything: the header
// "X-Auth-Token: USER:PROJECT" (or "X-Auth-Token: USER", meaning project
// USER) makes the caller USER in PROJECT. The user "admin" gets the admin
// role; every caller gets the configured roles.
//
// Like every auth filter it first strips client-sent identity headers, then
// sets the request's pipeline.Identity and, when the handler after it may
// read them (pipeline.ReadsIdentityHeaders: a proxy, any handler that does
// not say otherwise), the identity headers (X-Identity-Status: Confirmed,
// X-User-Id, X-Project-Id, X-Roles, ...). nova's and cinder's
// NoAuthMiddleware likewise hand the caller on as a request context
// object, not as headers. A request without a
// usable token gets 401 (nova instead hands out a fake token with 204; an
// answer that authenticates nothing is safer).
//
// Never use it where the API is reachable by anyone but developers: any
// caller can claim to be anybody.
package noauth

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/vietstack/vietstack-api/filters/identity"
	"github.com/vietstack/vietstack-api/pipeline"
)

// Options configure the noauth filter.
type Options struct {
	AdminUser   string   `ini:"admin_user" default:"admin" doc:"the user that gets the admin role, as in nova's noauth2; empty for none"`
	AlwaysAdmin bool     `ini:"always_admin" default:"false" doc:"give every caller the admin role (the behaviour of cinder's and older nova's NoAuthMiddleware)"`
	Roles       []string `ini:"roles" doc:"roles every caller gets, comma-separated (e.g. member,reader)"`
}

// Validate checks the options.
func (o *Options) Validate() error {
	for _, r := range o.Roles {
		if !validPart(r) {
			return errors.New("roles: a role must be printable text without commas or colons")
		}
	}
	return nil
}

// Aliases are the project spellings of nova's NoAuthMiddleware family that
// "noauth" stands for.
var Aliases = []string{
	"nova.api.openstack.auth:NoAuthMiddleware.factory",
	"nova.api.openstack.auth:NoAuthMiddlewareV3.factory",
	"cinder.api.middleware.auth:NoAuthMiddleware.factory",
	"cinder.api.middleware.auth:NoAuthMiddlewareIncludeProjectID.factory",
	"manila.api.middleware.auth:NoAuthMiddleware.factory",
	"manila.api.middleware.auth:NoAuthMiddlewarev2_60.factory",
	"masakari.api.auth:NoAuthMiddleware.factory",
	"karbor.api.middleware.auth:NoAuthMiddleware.factory",
}

// Register registers "noauth" and its aliases in reg.
func Register(reg *pipeline.Registry) {
	reg.Filter("noauth", Factory, pipeline.Info{
		Doc:     "development auth (nova noauth2): X-Auth-Token USER:PROJECT becomes the identity; 401 without it",
		Options: Options{},
	})
	for _, a := range Aliases {
		reg.Alias(a, "noauth")
	}
}

// Factory is the "noauth" FilterFactory.
func Factory(_ context.Context, c *pipeline.Config) (pipeline.Middleware, error) {
	var o Options
	if err := c.Decode(&o); err != nil {
		return nil, err
	}
	return New(o)
}

// maxPart bounds the user and project names taken from a token.
const maxPart = 255

// New returns the noauth middleware for o.
func New(o Options) (pipeline.Middleware, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	// The roles depend only on whether the caller is the admin: both lists
	// and their X-Roles values are computed once, and shared read-only by
	// the requests (capacity = length, so an append copies).
	plain := slices.Clip(append([]string{}, o.Roles...))
	admin := []string{"admin"}
	for _, role := range o.Roles {
		if role != "admin" {
			admin = append(admin, role)
		}
	}
	admin = slices.Clip(admin)
	return func(next http.Handler) http.Handler {
		return &filter{o: o, next: next, headers: pipeline.ReadsIdentityHeaders(next),
			roles:     [2][]string{plain, admin},
			rolesJoin: [2]string{strings.Join(plain, ","), strings.Join(admin, ",")}}
	}, nil
}

type filter struct {
	o         Options
	next      http.Handler
	headers   bool        // next may read identity headers: write them
	roles     [2][]string // [0] for a caller, [1] for the admin
	rolesJoin [2]string   // the X-Roles value of each
}

// ReadsIdentityHeaders reports false: the filter strips every identity
// header that reaches it, so nothing after it reads one written before it
// (see pipeline.ReadsIdentityHeaders).
func (f *filter) ReadsIdentityHeaders() bool { return false }

func (f *filter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	identity.Strip(r)
	var token string
	if v := r.Header["X-Auth-Token"]; len(v) > 0 {
		token = v[0]
	}
	user, project, _ := strings.Cut(token, ":")
	if project == "" {
		project = user
	}
	if !validPart(user) || !validPart(project) {
		identity.Unauthorized(w)
		return
	}
	admin := f.o.AlwaysAdmin || f.o.AdminUser != "" && user == f.o.AdminUser
	i := 0
	if admin {
		i = 1
	}
	id := pipeline.Identity{
		UserID: user, UserName: user,
		ProjectID: project, ProjectName: project,
		Roles:          f.roles[i],
		IsAdminProject: admin,
		AuthToken:      token,
	}
	if f.headers {
		identity.SetNew(r, &id, f.rolesJoin[i])
	} else {
		identity.Record(r, &id, f.rolesJoin[i])
	}
	f.next.ServeHTTP(w, r)
}

// validPart reports whether s is usable as a user, project or role name:
// non-empty, at most maxPart bytes, printable, without "," or ":" (which
// would corrupt X-Roles and the token syntax).
func validPart(s string) bool {
	if s == "" || len(s) > maxPart {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c == 0x7f || c == ',' || c == ':' {
			return false
		}
	}
	return true
}
