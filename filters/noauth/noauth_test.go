package noauth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vietstack/vietstack-api/pipeline"
)

type seen struct {
	called bool
	header http.Header
	id     *pipeline.Identity
}

func run(t *testing.T, o Options, hdr http.Header) (*httptest.ResponseRecorder, *seen) {
	t.Helper()
	mw, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	s := &seen{}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.called, s.header, s.id = true, r.Header.Clone(), pipeline.RequestFrom(r).Identity
	})
	r := httptest.NewRequest("GET", "/v2.1/servers", nil)
	r.Header = hdr
	w := httptest.NewRecorder()
	pipeline.Root(mw(app)).ServeHTTP(w, r)
	return w, s
}

func TestNoauthIdentity(t *testing.T) {
	tests := []struct {
		name    string
		o       Options
		token   string
		user    string
		project string
		roles   []string
		admin   bool
	}{
		{"user and project", Options{AdminUser: "admin"}, "alice:demo", "alice", "demo", []string{}, false},
		{"user only", Options{AdminUser: "admin"}, "alice", "alice", "alice", []string{}, false},
		{"empty project means user", Options{AdminUser: "admin"}, "alice:", "alice", "alice", []string{}, false},
		{"admin user", Options{AdminUser: "admin"}, "admin:admin", "admin", "admin", []string{"admin"}, true},
		{"no admin user configured", Options{}, "admin:p", "admin", "p", []string{}, false},
		{"always admin", Options{AdminUser: "admin", AlwaysAdmin: true}, "bob:p", "bob", "p", []string{"admin"}, true},
		{"extra roles", Options{AdminUser: "admin", Roles: []string{"member", "reader"}}, "bob:p", "bob", "p", []string{"member", "reader"}, false},
		{"extra roles for admin, no duplicate", Options{AdminUser: "admin", Roles: []string{"admin", "member"}}, "admin:p", "admin", "p", []string{"admin", "member"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := http.Header{
				"X-Auth-Token": {tt.token},
				// spoofed identity, every one must be replaced or removed
				"X-Roles": {"admin"}, "X_roles": {"admin"}, "X-Service-Roles": {"service"},
				"X-Is-Admin-Project": {"True"}, "X-Domain-Id": {"evil"}, "Openstack-System-Scope": {"all"},
			}
			w, s := run(t, tt.o, hdr)
			if !s.called || w.Code != 200 {
				t.Fatalf("app called %v, status %d", s.called, w.Code)
			}
			want := &pipeline.Identity{UserID: tt.user, UserName: tt.user, ProjectID: tt.project, ProjectName: tt.project,
				Roles: tt.roles, IsAdminProject: tt.admin, AuthToken: tt.token}
			if diff := cmp.Diff(want, s.id); diff != "" {
				t.Errorf("identity (-want +got):\n%s", diff)
			}
			adminStr := "False"
			if tt.admin {
				adminStr = "True"
			}
			wantH := http.Header{
				"X-Auth-Token": {tt.token}, "X-Identity-Status": {"Confirmed"},
				"X-User-Id": {tt.user}, "X-User-Name": {tt.user}, "X-User": {tt.user},
				"X-Project-Id": {tt.project}, "X-Project-Name": {tt.project},
				"X-Tenant-Id": {tt.project}, "X-Tenant-Name": {tt.project}, "X-Tenant": {tt.project},
				"X-Roles": {strings.Join(tt.roles, ",")}, "X-Role": {strings.Join(tt.roles, ",")},
				"X-Is-Admin-Project": {adminStr},
			}
			if diff := cmp.Diff(wantH, s.header); diff != "" {
				t.Errorf("headers reaching the app (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNoauthRefuses(t *testing.T) {
	tests := []struct {
		name string
		hdr  http.Header
	}{
		{"no token", http.Header{"X-User-Id": {"admin"}, "X-Roles": {"admin"}}},
		{"empty token", http.Header{"X-Auth-Token": {""}}},
		{"empty user", http.Header{"X-Auth-Token": {":proj"}}},
		{"space in user", http.Header{"X-Auth-Token": {"a b:proj"}}},
		{"comma in project", http.Header{"X-Auth-Token": {"a:p,q"}}},
		{"second colon", http.Header{"X-Auth-Token": {"a:p:q"}}},
		{"control character", http.Header{"X-Auth-Token": {"a\x01:p"}}},
		{"too long", http.Header{"X-Auth-Token": {strings.Repeat("u", 256) + ":p"}}},
	}
	for _, tt := range tests {
		w, s := run(t, Options{AdminUser: "admin"}, tt.hdr)
		if s.called || w.Code != 401 || !strings.Contains(w.Body.String(), "requires authentication") {
			t.Errorf("%s: app called %v, status %d, body %q", tt.name, s.called, w.Code, w.Body.String())
		}
	}
}

func TestNoauthBadRoles(t *testing.T) {
	for _, roles := range [][]string{{"a,b"}, {"a:b"}, {""}, {"a b"}} {
		if _, err := New(Options{Roles: roles}); err == nil {
			t.Errorf("roles %q accepted", roles)
		}
	}
}

func TestRegister(t *testing.T) {
	reg := pipeline.NewRegistry()
	Register(reg)
	for _, a := range append([]string{"egg:vietstack#noauth"}, Aliases...) {
		if f, ok := reg.Lookup(a, pipeline.KindFilter); !ok || f.Name != "noauth" {
			t.Errorf("%s does not resolve to noauth", a)
		}
	}
}

func TestFactory(t *testing.T) {
	mw, err := Factory(context.Background(), &pipeline.Config{Name: "filter:noauth", Local: map[string]string{"roles": "member, reader", "admin_user": "root"}})
	if err != nil {
		t.Fatal(err)
	}
	var got *pipeline.Identity
	h := pipeline.Root(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = pipeline.RequestFrom(r).Identity })))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-Auth-Token", "root:p")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if got == nil || strings.Join(got.Roles, ",") != "admin,member,reader" {
		t.Errorf("identity %+v", got)
	}
	for _, local := range []map[string]string{{"always_admin": "perhaps"}, {"role": "x"}, {"roles": "a:b"}} {
		if _, err := Factory(context.Background(), &pipeline.Config{Name: "filter:noauth", Local: local}); err == nil {
			t.Errorf("%v accepted", local)
		}
	}
}

// TestNoauthWithoutHeaderReader: when the next handler reads no identity
// header, noauth records the caller in the request state only; client-sent
// identity headers are stripped all the same. Without a root in front the
// headers are written, as there is no state to hold the caller.
func TestNoauthWithoutHeaderReader(t *testing.T) {
	mw, err := New(Options{AdminUser: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	s := &seen{}
	h := mw(quietAppFunc(func(r *http.Request) {
		s.called, s.header, s.id = true, r.Header.Clone(), pipeline.RequestFrom(r).Identity
	}))
	if pipeline.ReadsIdentityHeaders(h) {
		t.Error("noauth reports reading identity headers")
	}
	hdr := http.Header{"X-Auth-Token": {"alice:demo"}, "X-Roles": {"admin"}, "X-User-Id": {"evil"},
		"X-Service-Roles": {"service"}, "Openstack-System-Scope": {"all"}, "Accept": {"*/*"}}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header = hdr
	w := httptest.NewRecorder()
	pipeline.Root(h).ServeHTTP(w, r)
	if !s.called || w.Code != 200 {
		t.Fatalf("app called %v, status %d", s.called, w.Code)
	}
	if diff := cmp.Diff(http.Header{"X-Auth-Token": {"alice:demo"}, "Accept": {"*/*"}}, s.header); diff != "" {
		t.Errorf("headers reaching the app (-want +got):\n%s", diff)
	}
	want := &pipeline.Identity{UserID: "alice", UserName: "alice", ProjectID: "demo", ProjectName: "demo",
		Roles: []string{}, AuthToken: "alice:demo"}
	if diff := cmp.Diff(want, s.id); diff != "" {
		t.Errorf("identity (-want +got):\n%s", diff)
	}

	// No root: the headers carry the caller.
	var got http.Header
	direct := mw(quietAppFunc(func(r *http.Request) { got = r.Header.Clone() }))
	r = httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-Auth-Token", "bob:p")
	direct.ServeHTTP(httptest.NewRecorder(), r)
	if got.Get("X-User-Id") != "bob" || got.Get("X-Project-Id") != "p" || got.Get("X-Identity-Status") != "Confirmed" {
		t.Errorf("without a root: headers %v", got)
	}
}

// quietAppFunc is an app that reads no identity header and says so.
type quietAppFunc func(r *http.Request)

func (f quietAppFunc) ReadsIdentityHeaders() bool                       { return false }
func (f quietAppFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) { f(r) }
