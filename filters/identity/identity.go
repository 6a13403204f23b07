// Package identity is the identity-header handling shared by every auth
// filter (auth_token, noauth, keystonecontext).
//
// The identity headers (X-Identity-Status, X-User-Id, X-Roles, X-Service-*,
// ...) tell an OpenStack service who the caller is. They are trustworthy
// only when an auth filter in front of the service set them, so every auth
// filter first calls Strip, which deletes every spelling of every identity
// header a client could have sent ("_" for "-", any case), and then, from an
// Identity it established itself, calls Set.
package identity

import (
	"net/http"
	"strings"

	"github.com/vietstack/vietstack-api/pipeline"
)

// The identity headers an auth filter sets, in their canonical spelling.
const (
	Status             = "X-Identity-Status"
	UserID             = "X-User-Id"
	UserName           = "X-User-Name"
	UserDomainID       = "X-User-Domain-Id"
	UserDomainName     = "X-User-Domain-Name"
	ProjectID          = "X-Project-Id"
	ProjectName        = "X-Project-Name"
	ProjectDomainID    = "X-Project-Domain-Id"
	ProjectDomainName  = "X-Project-Domain-Name"
	DomainID           = "X-Domain-Id"
	DomainName         = "X-Domain-Name"
	Roles              = "X-Roles"
	IsAdminProject     = "X-Is-Admin-Project"
	ServiceCatalog     = "X-Service-Catalog"
	ServiceStatus      = "X-Service-Identity-Status"
	SystemScope        = "Openstack-System-Scope"
	DeprecatedRole     = "X-Role"
	DeprecatedUser     = "X-User"
	DeprecatedTenantID = "X-Tenant-Id"
	DeprecatedTenName  = "X-Tenant-Name"
	DeprecatedTenant   = "X-Tenant"
)

// The values of X-Identity-Status.
const (
	Confirmed = "Confirmed"
	Invalid   = "Invalid"
)

// exact are identity header names (lower case, "-" separated) stripped
// wherever they appear; prefixes are families stripped as a whole.
var exact = []string{
	"x-identity-status", "x-user-id", "x-user-name", "x-project-id", "x-project-name",
	"x-roles", "x-role", "x-user", "x-is-admin-project", "openstack-system-scope",
	"x-remote-user", "x-remote-domain",
}

var prefixes = []string{
	"x-service-", // every service-token twin and X-Service-Catalog (X-Service-Token is kept)
	"x-domain-", "x-user-domain-", "x-project-domain-",
	"x-tenant", // X-Tenant, X-Tenant-Id, X-Tenant-Name, ...
}

// kept are names inside a stripped family that are inputs, not outputs,
// of authentication.
var kept = []string{"x-service-token"}

// IsIdentityHeader reports whether name, compared case-insensitively with
// "_" and "-" the same, is an identity header that only an auth filter may
// set. It does not allocate.
func IsIdentityHeader(name string) bool {
	if len(name) < 6 {
		return false
	}
	switch name[0] {
	case 'x', 'X', 'o', 'O':
	default:
		return false
	}
	for _, k := range kept {
		if foldEqual(name, k) {
			return false
		}
	}
	for _, e := range exact {
		if foldEqual(name, e) {
			return true
		}
	}
	for _, p := range prefixes {
		if len(name) >= len(p) && foldEqual(name[:len(p)], p) {
			return true
		}
	}
	return false
}

// foldEqual compares a header name with a lower-case, "-" separated
// literal, ignoring ASCII case and reading "_" as "-".
func foldEqual(name, lit string) bool {
	if len(name) != len(lit) {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c == '_':
			c = '-'
		}
		if c != lit[i] {
			return false
		}
	}
	return true
}

// Strip deletes from r every identity header a client may have sent, in
// any spelling. Every auth filter calls it before anything else. It does
// not allocate.
func Strip(r *http.Request) {
	for k := range r.Header {
		if IsIdentityHeader(k) {
			delete(r.Header, k)
		}
	}
}

// Set sets r's identity headers from id, an identity an auth filter
// established, the way keystonemiddleware does for a valid user token:
// X-Identity-Status: Confirmed, the user, project and domain headers that
// have a value, X-Roles (comma-joined), X-Is-Admin-Project (True/False),
// and the deprecated copies X-Role, X-User, X-Tenant-Id, X-Tenant-Name,
// X-Tenant. It also records id in the request state, when there is one.
// Call Strip first.
func Set(r *http.Request, id *pipeline.Identity) {
	set(r, id, strings.Join(id.Roles, ","), make([]string, 0, maxValues))
}

// maxHeaders is the number of headers Set writes at most; an identity
// without the four domain headers has at most smallHeaders. The five
// deprecated copies share their value with the header they copy, so
// the headers have at most maxValues (smallValues) distinct values.
const (
	maxHeaders   = 16
	smallHeaders = maxHeaders - 4
	maxValues    = maxHeaders - 5
	smallValues  = smallHeaders - 5
)

// block is an Identity and the backing array of its header values,
// allocated together; smallBlock is the same for an identity without
// domain headers (noauth's: 12 headers, 7 values), 64 bytes smaller.
type block struct {
	id   pipeline.Identity
	vals [maxValues]string
}

type smallBlock struct {
	id   pipeline.Identity
	vals [smallValues]string
}

// SetNew is Set for an identity an auth filter builds per request: it
// stores id and the values of its headers in one allocation and returns
// the stored Identity. roles is the X-Roles value, the roles joined by
// ","; when it is "", SetNew joins id.Roles itself.
func SetNew(r *http.Request, id *pipeline.Identity, roles string) *pipeline.Identity {
	if roles == "" {
		roles = strings.Join(id.Roles, ",")
	}
	if id.UserDomainID == "" && id.UserDomainName == "" && id.ProjectDomainID == "" && id.ProjectDomainName == "" {
		b := &smallBlock{id: *id}
		set(r, &b.id, roles, b.vals[:0])
		return &b.id
	}
	b := &block{id: *id}
	set(r, &b.id, roles, b.vals[:0])
	return &b.id
}

// Record stores a copy of id as the request's Identity and writes no
// identity header, for an auth filter whose next handler reads none
// (pipeline.ReadsIdentityHeaders reported false when it was composed). It
// returns the stored Identity. Without a request state (no generation root
// in front) there is nowhere else for the caller to go, so it writes the
// headers as SetNew does. Call Strip first: client-sent identity headers
// go in any case.
func Record(r *http.Request, id *pipeline.Identity, roles string) *pipeline.Identity {
	st := pipeline.RequestFrom(r)
	if st == nil {
		return SetNew(r, id, roles)
	}
	c := new(pipeline.Identity)
	*c = *id
	st.Identity = c
	return c
}

// How Go's maps (Go 1.24 and later) hold entries, for set's choice: a map
// of at most smallMap entries is one 8-slot group (net/http makes request
// header maps that small for up to 8 headers); the first table it grows
// into has 16 slots and grows again beyond tableFill entries (7/8 full).
const (
	smallMap  = 8
	tableFill = 14
)

// count returns the number of headers set writes for id.
func count(id *pipeline.Identity) int {
	n := 4 // Status, Roles, DeprecatedRole, IsAdminProject
	for _, v := range [...]string{id.UserID, id.UserName, id.UserDomainID, id.UserDomainName,
		id.ProjectID, id.ProjectName, id.ProjectDomainID, id.ProjectDomainName} {
		if v != "" {
			n++
		}
	}
	if id.UserName != "" {
		n++ // DeprecatedUser
	}
	if id.ProjectID != "" {
		n++ // DeprecatedTenantID
	}
	if id.ProjectName != "" {
		n += 2 // DeprecatedTenName, DeprecatedTenant
	}
	return n
}

// set writes the headers of id, with roles as X-Roles and X-Role. Every
// value is a one-element slice of vals' backing array with a capacity of
// 1, so that an Add to one header reallocates instead of overwriting the
// next; a deprecated copy (X-Role, X-User, X-Tenant-Id, X-Tenant-Name,
// X-Tenant) is the very slice of the header it copies, as Header.Set,
// Add and Del replace slices and never write into one.
func set(r *http.Request, id *pipeline.Identity, roles string, vals []string) {
	h := r.Header
	if n := len(h) + count(id); len(h) <= smallMap && n > tableFill {
		// The headers would grow the map twice (a small map to a 16-slot
		// table, then to 32 slots): one map sized for all of them costs
		// one allocation, 700 bytes and a rehash less. The entries (and
		// their value slices) are the same; only the map is new.
		nh := make(http.Header, n)
		for k, v := range h {
			nh[k] = v
		}
		r.Header, h = nh, nh
	}
	put := func(k, v string) []string {
		vals = append(vals, v)
		n := len(vals)
		s := vals[n-1 : n : n]
		h[k] = s
		return s
	}
	put(Status, Confirmed)
	if id.UserID != "" {
		put(UserID, id.UserID)
	}
	var user, projectID, projectName []string
	if id.UserName != "" {
		user = put(UserName, id.UserName)
	}
	if id.UserDomainID != "" {
		put(UserDomainID, id.UserDomainID)
	}
	if id.UserDomainName != "" {
		put(UserDomainName, id.UserDomainName)
	}
	if id.ProjectID != "" {
		projectID = put(ProjectID, id.ProjectID)
	}
	if id.ProjectName != "" {
		projectName = put(ProjectName, id.ProjectName)
	}
	if id.ProjectDomainID != "" {
		put(ProjectDomainID, id.ProjectDomainID)
	}
	if id.ProjectDomainName != "" {
		put(ProjectDomainName, id.ProjectDomainName)
	}
	h[DeprecatedRole] = put(Roles, roles)
	if id.IsAdminProject {
		put(IsAdminProject, "True")
	} else {
		put(IsAdminProject, "False")
	}
	if user != nil {
		h[DeprecatedUser] = user
	}
	if projectID != nil {
		h[DeprecatedTenantID] = projectID
	}
	if projectName != nil {
		h[DeprecatedTenName] = projectName
		h[DeprecatedTenant] = projectName
	}
	if st := pipeline.RequestFrom(r); st != nil {
		st.Identity = id
	}
}

// SetInvalid marks r as carrying no valid identity (X-Identity-Status:
// Invalid), for an auth filter that lets the service decide
// (delay_auth_decision). Call Strip first.
func SetInvalid(r *http.Request) {
	r.Header[Status] = []string{Invalid}
}

// FromHeaders reads an identity from identity headers, with the fallbacks
// of nova's and neutron's keystone context filters: the user id from
// X-User-Id, else X-User; the project id from X-Project-Id, else
// X-Tenant-Id, else X-Tenant; names likewise; roles from X-Roles, else
// X-Role (comma-separated, blanks dropped). It reports false when
// X-Identity-Status is present and not Confirmed, or when there is no
// user id. Only call it on headers that an auth filter (or a trusted front
// end) set: client-sent identity headers are forgeable.
func FromHeaders(h http.Header) (*pipeline.Identity, bool) {
	if s := h.Values(Status); len(s) > 0 && s[0] != Confirmed {
		return nil, false
	}
	first := func(keys ...string) string {
		for _, k := range keys {
			if v := strings.TrimSpace(h.Get(k)); v != "" {
				return v
			}
		}
		return ""
	}
	id := &pipeline.Identity{
		UserID:            first(UserID, DeprecatedUser),
		UserName:          first(UserName, DeprecatedUser),
		UserDomainID:      first(UserDomainID),
		UserDomainName:    first(UserDomainName),
		ProjectID:         first(ProjectID, DeprecatedTenantID, DeprecatedTenant),
		ProjectName:       first(ProjectName, DeprecatedTenName, DeprecatedTenant),
		ProjectDomainID:   first(ProjectDomainID),
		ProjectDomainName: first(ProjectDomainName),
		IsAdminProject:    strings.EqualFold(first(IsAdminProject), "true"),
		AuthToken:         first("X-Auth-Token", "X-Storage-Token"),
	}
	for _, role := range strings.Split(first(Roles, DeprecatedRole), ",") {
		if role = strings.TrimSpace(role); role != "" {
			id.Roles = append(id.Roles, role)
		}
	}
	if id.UserID == "" {
		return nil, false
	}
	return id, true
}

// Unauthorized answers 401 with keystonemiddleware's JSON body.
func Unauthorized(w http.ResponseWriter) {
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{unauthorizedLen}
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write(unauthorizedBody)
}

var unauthorizedBody = []byte(`{"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}`)

const unauthorizedLen = "114"
