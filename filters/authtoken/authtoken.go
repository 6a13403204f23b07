// Package authtoken provides the "auth_token" filter, the Go counterpart of
// keystonemiddleware's auth_token: it authenticates every request's
// X-Auth-Token against Keystone (Identity v3) and tells the service who the
// caller is in the identity headers.
//
// Per request it:
//
//  1. strips every identity header the client sent, in any spelling
//     (filters/identity.Strip; unlike keystonemiddleware this includes
//     OpenStack-System-Scope);
//  2. validates X-Service-Token when present, then the user token from
//     X-Auth-Token (or X-Storage-Token), with GET /v3/auth/tokens, the token
//     in X-Subject-Token and the filter's own service token in X-Auth-Token
//     (with a valid service token an expired user token is accepted,
//     ?allow_expired=1, as upstream does);
//  3. on success sets X-Identity-Status: Confirmed, X-User-Id, X-User-Name,
//     X-User-Domain-Id/-Name, X-Project-Id/-Name, X-Project-Domain-Id/-Name,
//     X-Domain-Id/-Name (domain-scoped tokens), X-Roles, X-Is-Admin-Project,
//     OpenStack-System-Scope (system-scoped tokens), the deprecated X-Role,
//     X-User, X-Tenant-Id, X-Tenant-Name, X-Tenant, X-Service-Catalog (v2
//     JSON, include_service_catalog), and for a valid service token the
//     X-Service-* set with X-Service-Identity-Status: Confirmed; it records
//     the identity in pipeline.Request.Identity;
//  4. otherwise answers 401 with keystonemiddleware's JSON body and
//     WWW-Authenticate: Keystone uri="<www_authenticate_uri>", or 503 when
//     Keystone cannot be reached or refuses the filter's credentials; with
//     delay_auth_decision it passes the request on with
//     X-Identity-Status: Invalid (and X-Service-Identity-Status: Invalid)
//     instead, and the service must decide;
//  5. adds WWW-Authenticate to any 401 the application answers.
//
// The filter authenticates itself with password credentials (auth_type =
// password) and renews its token in the background before it expires, and
// at once when Keystone rejects it. Validation results are cached in
// process, keyed by the SHA-256 of the token: valid ones until
// min(token expiry, token_cache_time), invalid ones for
// negative_cache_time; concurrent validations of one token are made once.
// As upstream, a token revoked in Keystone keeps working until its cache
// entry expires. memcached_servers is accepted and ignored. Tokens are
// never logged: logs show "sha256:" and 16 hex digits of their hash.
//
// Options come from the paste section and, as keystonemiddleware does,
// from the [keystone_authtoken] section (and its auth_section) of the
// service's oslo.config file named by oslo_config_file or
// oslo_config_project (or the global option oslo_config_file); paste keys
// win. Differences from keystonemiddleware 10.1: service_token_roles_required
// defaults to true (upstream's 2026 default); the service token is
// validated at auth_url's v3 endpoint rather than at the catalog's
// identity endpoint; OpenStack-Identity-Access-Rules is not sent, so
// Keystone refuses application-credential tokens restricted by access
// rules.
package authtoken

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vietstack/vietstack-api/filters/faults/accept"
	"github.com/vietstack/vietstack-api/filters/identity"
	"github.com/vietstack/vietstack-api/pipeline"
)

// Options configure the auth_token filter. The names are
// keystonemiddleware's and keystoneauth's password plugin's.
type Options struct {
	WWWAuthenticateURI string `ini:"www_authenticate_uri" doc:"public Identity endpoint sent to clients in WWW-Authenticate: Keystone uri=\"...\" (default: auth_uri, then auth_url)"`
	AuthURI            string `ini:"auth_uri" doc:"deprecated name of www_authenticate_uri"`

	AuthURL           string `ini:"auth_url" doc:"Identity endpoint the filter authenticates and validates tokens at (http://keystone:5000 or .../v3); required"`
	AuthType          string `ini:"auth_type" default:"password" doc:"authentication plugin; only password (v3password) is supported"`
	Username          string `ini:"username" doc:"service user name (or user_id)"`
	UserID            string `ini:"user_id" doc:"service user id"`
	Password          string `ini:"password" doc:"service user password; never logged"`
	UserDomainName    string `ini:"user_domain_name" doc:"domain of username (or user_domain_id, default_domain_*)"`
	UserDomainID      string `ini:"user_domain_id" doc:"domain id of username"`
	ProjectName       string `ini:"project_name" doc:"project the service token is scoped to (or project_id, domain_*, system_scope)"`
	ProjectID         string `ini:"project_id" doc:"project id the service token is scoped to"`
	ProjectDomainName string `ini:"project_domain_name" doc:"domain of project_name"`
	ProjectDomainID   string `ini:"project_domain_id" doc:"domain id of project_name"`
	DomainID          string `ini:"domain_id" doc:"domain id for a domain-scoped service token"`
	DomainName        string `ini:"domain_name" doc:"domain name for a domain-scoped service token"`
	SystemScope       string `ini:"system_scope" doc:"\"all\" for a system-scoped service token"`
	DefaultDomainID   string `ini:"default_domain_id" doc:"user and project domain id when neither is given"`
	DefaultDomainName string `ini:"default_domain_name" doc:"user and project domain name when neither is given"`

	DelayAuthDecision         bool     `ini:"delay_auth_decision" default:"false" doc:"pass unauthenticated requests on with X-Identity-Status: Invalid instead of answering 401/503; the service must then check"`
	ServiceTokenRoles         []string `ini:"service_token_roles" default:"service" doc:"an X-Service-Token must carry one of these roles (when service_token_roles_required)"`
	ServiceTokenRolesRequired bool     `ini:"service_token_roles_required" default:"true" doc:"enforce service_token_roles on X-Service-Token (keystonemiddleware 10.1 defaulted to false)"`
	IncludeServiceCatalog     bool     `ini:"include_service_catalog" default:"true" doc:"ask for the catalog and pass it in X-Service-Catalog (v2 JSON)"`

	AclPublicRoutes []string `ini:"acl_public_routes" doc:"paths served without a token, as magnum, zun, cyborg and cloudkitty's auth_token subclasses do: each a regular expression matched against the whole path (trailing / removed, optional .json); client identity headers are still stripped"`

	TokenCacheTime        int           `ini:"token_cache_time" default:"300" doc:"seconds a valid token is cached (never beyond its expiry); -1 disables the cache"`
	NegativeCacheTime     time.Duration `ini:"negative_cache_time" default:"5s" doc:"how long a token Keystone called invalid is remembered as invalid; 0 disables"`
	TokenCacheMaxEntries  int           `ini:"token_cache_max_entries" default:"10000" doc:"bound on the number of cached validation results"`
	HTTPConnectTimeout    time.Duration `ini:"http_connect_timeout" default:"10" doc:"bound on each request to Keystone: connect, TLS handshake and answer (seconds or Go duration)"`
	HTTPRequestMaxRetries int           `ini:"http_request_max_retries" default:"3" doc:"retries of a request to Keystone that failed to connect or get an answer"`
	Insecure              bool          `ini:"insecure" default:"false" doc:"do not verify Keystone's TLS certificate (never in production)"`
	CAFile                string        `ini:"cafile" doc:"PEM CA bundle to verify Keystone's certificate"`
	CertFile              string        `ini:"certfile" doc:"PEM client certificate for Keystone (with keyfile)"`
	KeyFile               string        `ini:"keyfile" doc:"PEM key of certfile"`
	MemcachedServers      []string      `ini:"memcached_servers" doc:"accepted for compatibility and ignored: the cache is in process and bounded"`

	OsloConfigProject string `ini:"oslo_config_project" doc:"read [keystone_authtoken] from this project's oslo.config file (/etc/P/P.conf, ...)"`
	OsloConfigFile    string `ini:"oslo_config_file" doc:"read [keystone_authtoken] from this oslo.config file (relative to the paste file)"`

	// Obsolete keystonemiddleware options, mapped onto the password
	// plugin (with a warning) when username/user_id is not set.
	AdminUser       string `ini:"admin_user" doc:"obsolete: username"`
	AdminPassword   string `ini:"admin_password" doc:"obsolete: password"`
	AdminTenantName string `ini:"admin_tenant_name" doc:"obsolete: project_name (domain default)"`
	IdentityURI     string `ini:"identity_uri" doc:"obsolete: auth_url"`
	AuthHost        string `ini:"auth_host" doc:"obsolete: host of auth_url"`
	AuthPort        int    `ini:"auth_port" default:"35357" doc:"obsolete: port of auth_url"`
	AuthProtocol    string `ini:"auth_protocol" default:"https" doc:"obsolete: scheme of auth_url"`
	AuthAdminPrefix string `ini:"auth_admin_prefix" doc:"obsolete: path of auth_url"`

	_ struct{} `ini:"oslo_config_program,ignore" doc:"oslo.config program name; ignored"`
	_ struct{} `ini:"auth_section,ignore" doc:"read in the oslo.config file: the section holding the auth plugin options"`
	_ struct{} `ini:"auth_version,ignore" doc:"ignored: Identity v3 is always used"`
	_ struct{} `ini:"interface,ignore" doc:"ignored: tokens are validated at auth_url"`
	_ struct{} `ini:"region_name,ignore" doc:"ignored: tokens are validated at auth_url"`
	_ struct{} `ini:"service_type,ignore" doc:"ignored: access rules are not requested"`
	_ struct{} `ini:"enforce_token_bind,ignore" doc:"ignored: token binding is not supported (Keystone dropped it)"`
	_ struct{} `ini:"cache,ignore" doc:"ignored: the cache is in process"`
	_ struct{} `ini:"memcache_security_strategy,ignore" doc:"ignored with memcached_servers"`
	_ struct{} `ini:"memcache_secret_key,ignore" doc:"ignored with memcached_servers"`
	_ struct{} `ini:"memcache_pool_dead_retry,ignore" doc:"ignored with memcached_servers"`
	_ struct{} `ini:"memcache_pool_maxsize,ignore" doc:"ignored with memcached_servers"`
	_ struct{} `ini:"memcache_pool_socket_timeout,ignore" doc:"ignored with memcached_servers"`
	_ struct{} `ini:"memcache_pool_unused_timeout,ignore" doc:"ignored with memcached_servers"`
	_ struct{} `ini:"memcache_pool_conn_get_timeout,ignore" doc:"ignored with memcached_servers"`
	_ struct{} `ini:"memcache_use_advanced_pool,ignore" doc:"ignored with memcached_servers"`
	_ struct{} `ini:"memcache_tls_enabled,ignore" doc:"ignored with memcached_servers"`
	_ struct{} `ini:"revocation_cache_time,ignore" doc:"obsolete (PKI tokens); ignored"`
	_ struct{} `ini:"check_revocations_for_cached,ignore" doc:"obsolete (PKI tokens); ignored"`
	_ struct{} `ini:"hash_algorithms,ignore" doc:"obsolete (PKI tokens); ignored"`
	_ struct{} `ini:"signing_dir,ignore" doc:"obsolete (PKI tokens); ignored"`
	_ struct{} `ini:"admin_token,ignore" doc:"obsolete and insecure; ignored"`
	_ struct{} `ini:"log_name,ignore" doc:"ignored: logs go to the daemon's logger"`
	_ struct{} `ini:"include_service_catalog_v2,ignore" doc:"ignored"`
}

// Aliases are the Python spellings of auth_token in paste files.
var Aliases = []string{
	"keystonemiddleware.auth_token:filter_factory",
	"egg:keystonemiddleware#auth_token",
	"keystone.middleware.auth_token:filter_factory",
	"keystoneclient.middleware.auth_token:filter_factory",
}

// PublicRoutesAliases are the project subclasses of auth_token that add
// acl_public_routes (openstack-middleware.md, ksm.auth_token+public_routes);
// RegisterPublicRoutesAliases makes them spellings of auth_token.
var PublicRoutesAliases = []string{
	"magnum.api.middleware.auth_token:AuthTokenMiddleware.factory",
	"zun.api.middleware.auth_token:AuthTokenMiddleware.factory",
	"cyborg.api.middleware.auth_token:AuthTokenMiddleware.factory",
	"cloudkitty.api.middleware:AuthTokenMiddleware.factory",
}

// RegisterPublicRoutesAliases registers PublicRoutesAliases as spellings
// of auth_token; Register calls it.
func RegisterPublicRoutesAliases(reg *pipeline.Registry) {
	for _, a := range PublicRoutesAliases {
		reg.Alias(a, "auth_token")
	}
}

// Register registers "auth_token" and its aliases in reg.
func Register(reg *pipeline.Registry) {
	reg.Filter("auth_token", Factory, pipeline.Info{
		Doc:     "keystonemiddleware auth_token: validates X-Auth-Token with Keystone v3 and sets the identity headers; 401/503 otherwise",
		Options: Options{},
	})
	for _, a := range Aliases {
		reg.Alias(a, "auth_token")
	}
	RegisterPublicRoutesAliases(reg)
}

// optError is an invalid option value, positioned by the factory.
type optError struct{ key, msg string }

func (e *optError) Error() string { return e.key + ": " + e.msg }

// Factory is the "auth_token" FilterFactory. It starts the background
// renewal of the service token and stops it through c.OnClose.
func Factory(_ context.Context, c *pipeline.Config) (pipeline.Middleware, error) {
	merged, err := mergeOslo(c)
	if err != nil {
		return nil, err
	}
	cc := *c
	cc.Local = merged.local
	var o Options
	if err := cc.Decode(&o); err != nil {
		return nil, merged.reposition(c, err)
	}
	f, err := New(o, c.Logger)
	if err != nil {
		return nil, merged.reposition(c, err)
	}
	c.OnClose(f.Close)
	return f.Middleware, nil
}

// Filter is a configured auth_token filter. Its Middleware may wrap any
// number of handlers; Close stops its background work.
type Filter struct {
	delay        bool
	rolesNeeded  bool
	serviceRoles map[string]bool
	wwwAuth      []string // the WWW-Authenticate value
	public       []*regexp.Regexp
	log          *slog.Logger
	ks           *keystone
	cache        *tokenCache

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// New validates o and returns the filter; it starts the background renewal
// of the service token (which authenticates at once, without blocking).
// Call Close when done. A nil log means slog.Default().
func New(o Options, log *slog.Logger) (*Filter, error) {
	if log == nil {
		log = slog.Default()
	}
	if err := o.normalize(log); err != nil {
		return nil, err
	}
	hc, err := newHTTPClient(&o)
	if err != nil {
		return nil, err
	}
	body, err := authRequest(&o)
	if err != nil {
		return nil, &optError{"password", "cannot encode the credentials"}
	}
	var public []*regexp.Regexp
	for _, route := range o.AclPublicRoutes {
		re, err := regexp.Compile(`^(?:` + route + `)(?:\.json)?$`)
		if err != nil {
			return nil, &optError{"acl_public_routes", fmt.Sprintf("%q is not a valid regular expression: %v", route, err)}
		}
		public = append(public, re)
	}
	roles := map[string]bool{}
	for _, r := range o.ServiceTokenRoles {
		roles[strings.ToLower(r)] = true
	}
	ttl := time.Duration(o.TokenCacheTime) * time.Second
	neg := o.NegativeCacheTime
	if ttl <= 0 {
		ttl, neg = 0, 0
	}
	f := &Filter{
		delay:        o.DelayAuthDecision,
		rolesNeeded:  o.ServiceTokenRolesRequired,
		serviceRoles: roles,
		wwwAuth:      []string{`Keystone uri="` + o.WWWAuthenticateURI + `"`},
		public:       public,
		log:          log,
		ks: &keystone{
			http: hc, authURL: o.AuthURL, authBody: body,
			timeout: o.HTTPConnectTimeout, retries: o.HTTPRequestMaxRetries,
			noCatalog: !o.IncludeServiceCatalog, log: log,
		},
		cache: newTokenCache(ttl, neg, o.TokenCacheMaxEntries),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	if len(o.MemcachedServers) > 0 {
		log.Warn("authtoken: memcached_servers is ignored; validation results are cached in process")
	}
	go func() {
		defer close(f.done)
		f.ks.renewLoop(f.stop)
	}()
	return f, nil
}

// Close stops the background renewal and waits for it to end. It is safe
// to call more than once; requests still in flight keep working.
func (f *Filter) Close() error {
	f.closeOnce.Do(func() { close(f.stop) })
	<-f.done
	f.ks.http.CloseIdleConnections()
	return nil
}

// normalize applies the fallbacks between options and checks them.
func (o *Options) normalize(log *slog.Logger) error {
	if o.Username == "" && o.UserID == "" && o.AdminUser != "" {
		log.Warn("authtoken: admin_user, admin_password and admin_tenant_name are obsolete; use auth_type = password with username, password and project_name")
		o.Username, o.Password = o.AdminUser, o.AdminPassword
		if o.ProjectName == "" && o.ProjectID == "" {
			o.ProjectName = o.AdminTenantName
		}
		if o.UserDomainID == "" && o.UserDomainName == "" {
			o.UserDomainID = "default"
		}
		if o.ProjectDomainID == "" && o.ProjectDomainName == "" {
			o.ProjectDomainID = "default"
		}
	}
	if o.AuthURL == "" {
		switch {
		case o.IdentityURI != "":
			o.AuthURL = o.IdentityURI
		case o.AuthHost != "":
			o.AuthURL = fmt.Sprintf("%s://%s:%d%s", o.AuthProtocol, o.AuthHost, o.AuthPort, o.AuthAdminPrefix)
		}
		if o.AuthURL != "" {
			log.Warn("authtoken: identity_uri and auth_host/auth_port/auth_protocol are obsolete; use auth_url")
		}
	}
	if o.WWWAuthenticateURI == "" {
		o.WWWAuthenticateURI = o.AuthURI
	}
	if o.WWWAuthenticateURI == "" {
		o.WWWAuthenticateURI = o.AuthURL
		if o.AuthURL != "" {
			log.Warn("authtoken: www_authenticate_uri is not set; clients are told auth_url, which may be an internal endpoint")
		}
	}
	if o.UserDomainID == "" && o.UserDomainName == "" {
		o.UserDomainID, o.UserDomainName = o.DefaultDomainID, o.DefaultDomainName
	}
	if o.ProjectDomainID == "" && o.ProjectDomainName == "" {
		o.ProjectDomainID, o.ProjectDomainName = o.DefaultDomainID, o.DefaultDomainName
	}

	switch strings.ToLower(o.AuthType) {
	case "password", "v3password":
	default:
		return &optError{"auth_type", fmt.Sprintf("%q is not supported; use password", o.AuthType)}
	}
	if err := checkURL(o.AuthURL); err != nil {
		return &optError{"auth_url", err.Error()}
	}
	if err := checkURL(o.WWWAuthenticateURI); err != nil {
		key := "www_authenticate_uri"
		if o.AuthURI == o.WWWAuthenticateURI {
			key = "auth_uri"
		}
		return &optError{key, err.Error()}
	}
	switch {
	case o.Username == "" && o.UserID == "":
		return &optError{"username", "the service user is required (username or user_id)"}
	case o.UserID == "" && o.UserDomainID == "" && o.UserDomainName == "":
		return &optError{"user_domain_name", "username needs its domain (user_domain_name or user_domain_id)"}
	case o.Password == "":
		return &optError{"password", "the service user's password is required"}
	case o.ProjectID == "" && o.ProjectName == "" && o.DomainID == "" && o.DomainName == "" && o.SystemScope == "":
		return &optError{"project_name", "the service token needs a scope: project_name (or project_id, domain_id, domain_name, system_scope)"}
	case o.ProjectID == "" && o.ProjectName != "" && o.ProjectDomainID == "" && o.ProjectDomainName == "":
		return &optError{"project_domain_name", "project_name needs its domain (project_domain_name or project_domain_id)"}
	case o.SystemScope != "" && o.SystemScope != "all":
		return &optError{"system_scope", fmt.Sprintf("%q: only \"all\" is defined", o.SystemScope)}
	case o.ServiceTokenRolesRequired && len(o.ServiceTokenRoles) == 0:
		return &optError{"service_token_roles", "empty, but service_token_roles_required is true: no service token could be accepted"}
	case o.TokenCacheTime < -1:
		return &optError{"token_cache_time", "must be -1 (no cache) or a number of seconds"}
	case o.TokenCacheMaxEntries < 1 || o.TokenCacheMaxEntries > 10_000_000:
		return &optError{"token_cache_max_entries", "must be between 1 and 10000000"}
	case o.HTTPConnectTimeout <= 0 || o.HTTPConnectTimeout > 5*time.Minute:
		return &optError{"http_connect_timeout", "must be more than 0 and at most 5 minutes"}
	case o.HTTPRequestMaxRetries < 0 || o.HTTPRequestMaxRetries > 10:
		return &optError{"http_request_max_retries", "must be between 0 and 10"}
	case o.NegativeCacheTime > time.Hour:
		return &optError{"negative_cache_time", "must be at most an hour"}
	}
	return nil
}

// checkURL accepts an absolute http(s) URL that can sit in a quoted
// header parameter.
func checkURL(s string) error {
	if s == "" {
		return errors.New("required: the Identity endpoint, such as http://keystone:5000/v3")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", s)
	}
	if u.User != nil {
		return fmt.Errorf("%q: credentials do not belong in the URL", u.Redacted())
	}
	if strings.ContainsAny(s, "\"\\ \t\r\n") {
		return fmt.Errorf("%q: quotes, backslashes and spaces are not allowed", s)
	}
	return nil
}

// maxTokenLen bounds the tokens the filter sends to Keystone: Fernet
// tokens are about 200 bytes, JWS tokens about 1 KiB.
const maxTokenLen = 16 << 10

// The header names the filter reads.
const (
	hdrAuthToken    = "X-Auth-Token"
	hdrStorageToken = "X-Storage-Token"
	hdrServiceToken = "X-Service-Token"
	hdrWWWAuth      = "Www-Authenticate"
)

// Middleware wraps next with the filter.
func (f *Filter) Middleware(next http.Handler) http.Handler {
	return &handler{f: f, next: next, headers: pipeline.ReadsIdentityHeaders(next)}
}

type handler struct {
	f    *Filter
	next http.Handler
	// headers: next may read identity headers, so a valid token's are
	// written; otherwise the caller goes in pipeline.Request.Identity only.
	headers bool
}

// ReadsIdentityHeaders reports false: the filter strips every identity
// header that reaches it, so nothing after it reads one written before it
// (see pipeline.ReadsIdentityHeaders).
func (h *handler) ReadsIdentityHeaders() bool { return false }

// decision is what the filter concluded about a request.
type decision int

const (
	pass decision = iota
	reject401
	reject503
)

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f := h.f
	identity.Strip(r)
	if len(f.public) > 0 && f.isPublic(r.URL.Path) {
		h.next.ServeHTTP(w, r)
		return
	}
	ctx := r.Context()
	d := pass

	var svc *tokenInfo
	if st := firstValue(r.Header, hdrServiceToken); st != "" {
		info, err := f.check(ctx, st, false)
		switch {
		case err == nil && f.rolesNeeded && !info.hasRole(f.serviceRoles):
			f.log.Info("authtoken: X-Service-Token lacks every service_token_roles role", "token", tokenRef(st))
			d = reject401
		case err == nil:
			svc = info
		case errors.Is(err, errInvalidToken):
			d = reject401
		default:
			f.log.Warn("authtoken: cannot validate X-Service-Token", "token", tokenRef(st), "error", err)
			d = reject503
		}
		if svc != nil {
			if h.headers {
				setService(r.Header, svc)
			}
		} else {
			r.Header[identity.ServiceStatus] = []string{identity.Invalid}
		}
	}

	if d != pass && !f.delay {
		reject(w, r, d, f.wwwAuth)
		return
	}

	var user *tokenInfo
	ut := firstValue(r.Header, hdrAuthToken)
	if ut == "" {
		ut = firstValue(r.Header, hdrStorageToken)
	}
	if ut == "" {
		d = max(d, reject401)
	} else {
		info, err := f.check(ctx, ut, svc != nil)
		switch {
		case err == nil:
			user = info
		case errors.Is(err, errInvalidToken):
			d = max(d, reject401)
		default:
			f.log.Warn("authtoken: cannot validate X-Auth-Token", "token", tokenRef(ut), "error", err)
			d = reject503
		}
	}

	if d != pass && !f.delay {
		reject(w, r, d, f.wwwAuth)
		return
	}
	if user != nil {
		if h.headers || pipeline.RequestFrom(r) == nil {
			setUser(r, user, ut)
		} else {
			id := user.identity(ut)
			identity.Record(r, &id, "")
		}
	} else {
		identity.SetInvalid(r)
	}
	h.next.ServeHTTP(&challengeWriter{ResponseWriter: w, value: f.wwwAuth}, r)
}

// isPublic reports whether path matches acl_public_routes, as magnum's
// subclass matches PATH_INFO with trailing slashes removed.
func (f *Filter) isPublic(path string) bool {
	if p := strings.TrimRight(path, "/"); p != "" {
		path = p
	}
	for _, re := range f.public {
		if re.MatchString(path) {
			return true
		}
	}
	return false
}

// reject answers 401 (with the WWW-Authenticate challenge) or 503.
func reject(w http.ResponseWriter, r *http.Request, d decision, challenge []string) {
	if d == reject503 {
		serviceUnavailable(w, r)
		return
	}
	w.Header()[hdrWWWAuth] = challenge
	identity.Unauthorized(w)
}

// check returns what Keystone says about token (cached), treating a token
// past its expiry as invalid unless allowExpired.
func (f *Filter) check(ctx context.Context, token string, allowExpired bool) (*tokenInfo, error) {
	if len(token) > maxTokenLen || !headerSafe(token) {
		return nil, errInvalidToken
	}
	if allowExpired {
		// A fresh result of the ordinary validation serves too.
		if info, err := f.check(ctx, token, false); err == nil {
			return info, nil
		} else if !errors.Is(err, errInvalidToken) {
			return nil, err
		}
	}
	info, err := f.cache.lookup(ctx, token, allowExpired, func(ctx context.Context) (*tokenInfo, error) {
		return f.ks.validate(ctx, token, allowExpired)
	})
	if err != nil {
		if errors.Is(err, errInvalidToken) {
			f.log.Debug("authtoken: invalid token", "token", tokenRef(token))
		}
		return nil, err
	}
	if !allowExpired && info.expired(time.Now()) {
		return nil, errInvalidToken
	}
	return info, nil
}

func firstValue(h http.Header, k string) string {
	if v := h[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// setUser sets the identity headers of a valid user token and records the
// identity.
func setUser(r *http.Request, t *tokenInfo, token string) {
	id := t.identity(token)
	identity.Set(r, &id)
	h := r.Header
	if t.DomainID != "" {
		h[identity.DomainID] = []string{t.DomainID}
	}
	if t.DomainName != "" {
		h[identity.DomainName] = []string{t.DomainName}
	}
	if t.SystemScope != "" {
		h[identity.SystemScope] = []string{t.SystemScope}
	}
	if t.Catalog != "" {
		h[identity.ServiceCatalog] = []string{t.Catalog}
	}
}

// identity returns the caller of the valid user token t (token itself).
func (t *tokenInfo) identity(token string) pipeline.Identity {
	return pipeline.Identity{
		UserID: t.UserID, UserName: t.UserName,
		UserDomainID: t.UserDomainID, UserDomainName: t.UserDomainName,
		ProjectID: t.ProjectID, ProjectName: t.ProjectName,
		ProjectDomainID: t.ProjectDomainID, ProjectDomainName: t.ProjectDomainName,
		Roles:          t.Roles,
		IsAdminProject: t.IsAdminProject,
		AuthToken:      token,
	}
}

// setService sets the X-Service-* headers of a valid service token.
func setService(h http.Header, t *tokenInfo) {
	h[identity.ServiceStatus] = []string{identity.Confirmed}
	for _, kv := range [...][2]string{
		{"X-Service-User-Id", t.UserID},
		{"X-Service-User-Name", t.UserName},
		{"X-Service-User-Domain-Id", t.UserDomainID},
		{"X-Service-User-Domain-Name", t.UserDomainName},
		{"X-Service-Project-Id", t.ProjectID},
		{"X-Service-Project-Name", t.ProjectName},
		{"X-Service-Project-Domain-Id", t.ProjectDomainID},
		{"X-Service-Project-Domain-Name", t.ProjectDomainName},
		{"X-Service-Domain-Id", t.DomainID},
		{"X-Service-Domain-Name", t.DomainName},
	} {
		if kv[1] != "" {
			h[kv[0]] = []string{kv[1]}
		}
	}
	h["X-Service-Roles"] = []string{t.RolesHeader}
}

// WebOb's HTTPServiceUnavailable page with keystonemiddleware's detail, in
// the three forms WebOb negotiates from Accept (WebOb 1.8).
const (
	unavailablePlain = "503 Service Unavailable\n\nThe server is currently unavailable. Please try again at a later time.\n\n The Keystone service is temporarily unavailable.  "
	unavailableHTML  = "<html>\n <head>\n  <title>503 Service Unavailable</title>\n </head>\n <body>\n  <h1>503 Service Unavailable</h1>\n  The server is currently unavailable. Please try again at a later time.<br /><br />\nThe Keystone service is temporarily unavailable.\n\n\n </body>\n</html>"
	unavailableJSON  = `{"message": "The server is currently unavailable. Please try again at a later time.<br /><br />\nThe Keystone service is temporarily unavailable.\n\n", "code": "503 Service Unavailable", "title": "Service Unavailable"}`
)

var webobOffers = []string{"text/html", "application/json"}

// serviceUnavailable answers 503 as keystonemiddleware does when Keystone
// cannot be reached: WebOb's page, HTML, JSON or plain text by Accept.
func serviceUnavailable(w http.ResponseWriter, r *http.Request) {
	ctype, body := "text/plain; charset=UTF-8", unavailablePlain
	switch m, _ := accept.Negotiate(r.Header.Get("Accept"), webobOffers); m {
	case "text/html":
		ctype, body = "text/html; charset=UTF-8", unavailableHTML
	case "application/json":
		ctype, body = "application/json", unavailableJSON
	}
	h := w.Header()
	h["Content-Type"] = []string{ctype}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = io.WriteString(w, body)
}

// challengeWriter adds WWW-Authenticate to a 401 the application answers,
// as keystonemiddleware's process_response does.
type challengeWriter struct {
	http.ResponseWriter
	value       []string
	wroteHeader bool
}

func (c *challengeWriter) WriteHeader(code int) {
	if !c.wroteHeader && code >= 200 {
		c.wroteHeader = true
		if code == http.StatusUnauthorized {
			c.Header()[hdrWWWAuth] = c.value
		}
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *challengeWriter) Write(p []byte) (int, error) {
	c.wroteHeader = true
	return c.ResponseWriter.Write(p)
}

// Flush forwards to the underlying writer when it can flush.
func (c *challengeWriter) Flush() {
	c.wroteHeader = true
	_ = http.NewResponseController(c.ResponseWriter).Flush()
}

// Unwrap gives http.ResponseController the underlying writer.
func (c *challengeWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
