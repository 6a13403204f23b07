package identity

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vietstack/vietstack-api/pipeline"
)

func TestIsIdentityHeader(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"X-Identity-Status", true}, {"x_identity_status", true}, {"X-IDENTITY-STATUS", true},
		{"X-User-Id", true}, {"X_User_Id", true}, {"X-User-Name", true}, {"X-User", true},
		{"X-User-Domain-Id", true}, {"X-User-Domain-Name", true},
		{"X-Project-Id", true}, {"X-Project-Name", true}, {"X-Project-Domain-Id", true},
		{"X-Project-Domain-Name", true}, {"X-Domain-Id", true}, {"X-Domain-Name", true},
		{"X-Roles", true}, {"X_ROLES", true}, {"X-Role", true}, {"X-Is-Admin-Project", true},
		{"X-Service-Catalog", true}, {"X-Service-Identity-Status", true}, {"X-Service-Roles", true},
		{"X-Service-User-Id", true}, {"X_Service_Project_Id", true},
		{"X-Tenant", true}, {"X-Tenant-Id", true}, {"X-Tenant-Name", true}, {"x_tenant_id", true},
		{"OpenStack-System-Scope", true}, {"Openstack_System_Scope", true}, {"X-Remote-User", true},
		// inputs and unrelated headers stay
		{"X-Auth-Token", false}, {"X-Service-Token", false}, {"X_Service_Token", false},
		{"X-Subject-Token", false}, {"X-User-Agent", false}, {"User-Agent", false},
		{"X-Users", false}, {"X-Project", false}, {"Accept", false}, {"X", false},
		{"X-Openstack-Request-Id", false}, {"X-Forwarded-For", false},
	}
	for _, tt := range tests {
		if got := IsIdentityHeader(tt.name); got != tt.want {
			t.Errorf("IsIdentityHeader(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestStrip(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header = http.Header{
		"X-Roles": {"admin"}, "X_roles": {"admin"}, "X-User-Id": {"u"}, "X-Is-Admin-Project": {"True"},
		"X-Service-Roles": {"service"}, "X-Tenant-Id": {"t"}, "Openstack-System-Scope": {"all"},
		"X-Auth-Token": {"tok"}, "X-Service-Token": {"stok"}, "Accept": {"*/*"},
	}
	Strip(r)
	var got []string
	for k := range r.Header {
		got = append(got, k)
	}
	sort.Strings(got)
	if diff := cmp.Diff([]string{"Accept", "X-Auth-Token", "X-Service-Token"}, got); diff != "" {
		t.Errorf("after Strip (-want +got):\n%s", diff)
	}
}

func TestStripAllocs(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header = http.Header{"Accept": {"*/*"}, "X-Auth-Token": {"t"}, "User-Agent": {"x"}, "X-Openstack-Request-Id": {"r"}}
	if n := testing.AllocsPerRun(100, func() { Strip(r) }); n != 0 {
		t.Errorf("Strip allocates %v times per request", n)
	}
}

func TestSetAndFromHeaders(t *testing.T) {
	id := &pipeline.Identity{
		UserID: "u1", UserName: "alice", UserDomainID: "default", UserDomainName: "Default",
		ProjectID: "p1", ProjectName: "demo", ProjectDomainID: "default", ProjectDomainName: "Default",
		Roles: []string{"member", "reader"}, IsAdminProject: false, AuthToken: "tok",
	}
	var seen *pipeline.Identity
	h := pipeline.Root(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set("X-Auth-Token", "tok")
		Set(r, id)
		seen = pipeline.RequestFrom(r).Identity
		want := http.Header{
			"X-Auth-Token": {"tok"}, "X-Identity-Status": {"Confirmed"}, "X-User-Id": {"u1"}, "X-User-Name": {"alice"},
			"X-User-Domain-Id": {"default"}, "X-User-Domain-Name": {"Default"}, "X-Project-Id": {"p1"},
			"X-Project-Name": {"demo"}, "X-Project-Domain-Id": {"default"}, "X-Project-Domain-Name": {"Default"},
			"X-Roles": {"member,reader"}, "X-Role": {"member,reader"}, "X-Is-Admin-Project": {"False"},
			"X-User": {"alice"}, "X-Tenant-Id": {"p1"}, "X-Tenant-Name": {"demo"}, "X-Tenant": {"demo"},
		}
		if diff := cmp.Diff(want, r.Header); diff != "" {
			t.Errorf("headers (-want +got):\n%s", diff)
		}
		back, ok := FromHeaders(r.Header)
		if !ok {
			t.Fatal("FromHeaders refused what Set wrote")
		}
		if diff := cmp.Diff(id, back); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if seen != id {
		t.Error("Set did not record the identity in the request state")
	}
}

func TestFromHeaders(t *testing.T) {
	tests := []struct {
		name string
		h    http.Header
		ok   bool
		want *pipeline.Identity
	}{
		{"legacy names", http.Header{"X-User": {"bob"}, "X-Tenant": {"proj"}, "X-Role": {" a , ,b"}}, true,
			&pipeline.Identity{UserID: "bob", UserName: "bob", ProjectID: "proj", ProjectName: "proj", Roles: []string{"a", "b"}}},
		{"invalid status", http.Header{"X-Identity-Status": {"Invalid"}, "X-User-Id": {"u"}}, false, nil},
		{"no user", http.Header{"X-Identity-Status": {"Confirmed"}, "X-Project-Id": {"p"}}, false, nil},
		{"admin project", http.Header{"X-User-Id": {"u"}, "X-Is-Admin-Project": {"True"}}, true,
			&pipeline.Identity{UserID: "u", IsAdminProject: true}},
	}
	for _, tt := range tests {
		got, ok := FromHeaders(tt.h)
		if ok != tt.ok {
			t.Errorf("%s: ok %v", tt.name, ok)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestUnauthorized(t *testing.T) {
	w := httptest.NewRecorder()
	Unauthorized(w)
	if w.Code != 401 || w.Header().Get("Content-Type") != "application/json" ||
		w.Header().Get("Content-Length") != "114" || w.Body.Len() != 114 {
		t.Errorf("got %d %v %q", w.Code, w.Header(), w.Body.String())
	}
}

func BenchmarkStrip(b *testing.B) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header = http.Header{"Accept": {"*/*"}, "X-Auth-Token": {"t"}, "User-Agent": {"x"},
		"X-Openstack-Request-Id": {"r"}, "Content-Type": {"application/json"}, "X-Forwarded-For": {"1.2.3.4"}}
	b.ReportAllocs()
	for b.Loop() {
		Strip(r)
	}
}

// TestSetAllocs: Set shares one backing array among its header values
// (plus the joined roles), and a later Add to one header never overwrites
// another's value.
func TestSetAllocs(t *testing.T) {
	id := &pipeline.Identity{UserID: "u", UserName: "u", ProjectID: "p", ProjectName: "p", Roles: []string{"a", "b"}}
	r := httptest.NewRequest("GET", "/", nil)
	Set(r, id)
	if n := testing.AllocsPerRun(100, func() { Set(r, id) }); n > 2 {
		t.Errorf("Set allocates %v times, want at most 2", n)
	}
	r.Header.Add(UserID, "extra")
	r.Header.Add(Status, "extra")
	if got := r.Header.Values(UserName); len(got) != 1 || got[0] != "u" {
		t.Errorf("X-User-Name = %q after adding to X-User-Id", got)
	}
	if got := r.Header.Values(UserID); len(got) != 2 || got[0] != "u" || got[1] != "extra" {
		t.Errorf("X-User-Id = %q", got)
	}
}

// TestSetNew: SetNew writes exactly what Set writes, records a copy of
// the identity in the request state, and costs one allocation (the
// identity and its header values together) once the header map has room,
// with or without domain headers.
func TestSetNew(t *testing.T) {
	full := &pipeline.Identity{
		UserID: "u1", UserName: "alice", UserDomainID: "default", UserDomainName: "Default",
		ProjectID: "p1", ProjectName: "demo", ProjectDomainID: "default", ProjectDomainName: "Default",
		Roles: []string{"member", "reader"}, AuthToken: "tok",
	}
	small := &pipeline.Identity{UserID: "bob", UserName: "bob", ProjectID: "p", ProjectName: "p",
		Roles: []string{"admin"}, IsAdminProject: true, AuthToken: "bob:p"}
	for _, tt := range []struct {
		name  string
		id    *pipeline.Identity
		roles string
		n     int // headers written
		alloc float64
	}{
		{"full", full, "", maxHeaders, 2}, // and the joined roles
		{"full, roles given", full, "member,reader", maxHeaders, 1},
		{"small", small, "admin", smallHeaders, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var want, got http.Header
			var stored, seen *pipeline.Identity
			h := pipeline.Root(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				r.Header = http.Header{"X-Auth-Token": {"tok"}}
				Set(r, tt.id)
				want = r.Header
				r.Header = http.Header{"X-Auth-Token": {"tok"}}
				stored = SetNew(r, tt.id, tt.roles)
				got, seen = r.Header, pipeline.RequestFrom(r).Identity
			}))
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("SetNew against Set (-Set +SetNew):\n%s", diff)
			}
			if len(got) != tt.n+1 {
				t.Errorf("%d headers written, want %d", len(got)-1, tt.n)
			}
			if stored == tt.id || seen != stored || !cmp.Equal(stored, tt.id) {
				t.Errorf("stored %p %+v, state %p, caller's %p", stored, stored, seen, tt.id)
			}
			r := httptest.NewRequest("GET", "/", nil)
			r.Header = make(http.Header, 32)
			if n := testing.AllocsPerRun(100, func() { SetNew(r, tt.id, tt.roles) }); n != tt.alloc {
				t.Errorf("SetNew: %v allocations, want %v", n, tt.alloc)
			}
		})
	}
}

// BenchmarkStripSetNew is noauth's header work on a request that arrives
// with n headers (a fresh map per request, as from net/http): 1 is what
// the benchmarks' load generator sends, 7 a python-novaclient request.
func BenchmarkStripSetNew(b *testing.B) {
	id := &pipeline.Identity{UserID: "bench", UserName: "bench", ProjectID: "bench", ProjectName: "bench",
		Roles: []string{"member", "reader"}, AuthToken: "bench:bench"}
	for _, n := range []int{1, 3, 7, 12} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			names := []string{"X-Auth-Token", "User-Agent", "Accept", "Accept-Encoding", "Connection",
				"Content-Type", "Openstack-Api-Version", "X-Forwarded-For", "X-Forwarded-Proto",
				"Content-Length", "Cookie", "Origin"}
			r := httptest.NewRequest("GET", "/", nil)
			b.ReportAllocs()
			for b.Loop() {
				h := make(http.Header, n)
				for _, k := range names[:n] {
					h[k] = []string{"v"}
				}
				r.Header = h
				Strip(r)
				SetNew(r, id, "member,reader")
			}
		})
	}
}

// TestSetKeepsHeaders: whether set writes into the request's header map
// or first moves its entries to a bigger one (a map that would grow
// twice), every header the request had is still there with the same
// value slice, next to exactly the identity headers.
func TestSetKeepsHeaders(t *testing.T) {
	id := &pipeline.Identity{UserID: "u", UserName: "alice", ProjectID: "p", ProjectName: "demo",
		Roles: []string{"member"}, AuthToken: "tok"}
	names := []string{"X-Auth-Token", "User-Agent", "Accept", "Accept-Encoding", "Connection",
		"Content-Type", "Openstack-Api-Version", "X-Forwarded-For", "Cookie", "Origin"}
	for n := range len(names) + 1 {
		in := http.Header{}
		for _, k := range names[:n] {
			in[k] = []string{k + "-value"}
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.Header = in.Clone()
		before := map[string]*string{}
		for k, v := range r.Header {
			before[k] = &v[0]
		}
		SetNew(r, id, "")
		want := in.Clone()
		for k, v := range map[string]string{Status: Confirmed, UserID: "u", UserName: "alice",
			ProjectID: "p", ProjectName: "demo", Roles: "member", DeprecatedRole: "member",
			IsAdminProject: "False", DeprecatedUser: "alice", DeprecatedTenantID: "p",
			DeprecatedTenName: "demo", DeprecatedTenant: "demo"} {
			want[k] = []string{v}
		}
		if diff := cmp.Diff(want, r.Header); diff != "" {
			t.Errorf("%d headers before: (-want +got):\n%s", n, diff)
		}
		for k, p := range before {
			if &r.Header[k][0] != p {
				t.Errorf("%d headers before: %s's value slice was copied", n, k)
			}
		}
		if count(id) != len(want)-n {
			t.Errorf("count = %d, set wrote %d", count(id), len(want)-n)
		}
	}
	// A deprecated copy shares its value slice with its header: changing
	// one through Header's methods leaves the other as it was.
	r0 := httptest.NewRequest("GET", "/", nil)
	r0.Header = http.Header{}
	SetNew(r0, id, "")
	r0.Header.Add(Roles, "admin")
	r0.Header.Set(UserName, "mallory")
	r0.Header.Del(ProjectName)
	r0.Header.Add(DeprecatedTenant, "x")
	for k, want := range map[string][]string{Roles: {"member", "admin"}, DeprecatedRole: {"member"},
		UserName: {"mallory"}, DeprecatedUser: {"alice"}, ProjectName: nil,
		DeprecatedTenName: {"demo"}, DeprecatedTenant: {"demo", "x"}} {
		if got := r0.Header[k]; !cmp.Equal(got, want) {
			t.Errorf("after changes, %s = %q, want %q", k, got, want)
		}
	}
	full := &pipeline.Identity{UserID: "u", UserName: "n", UserDomainID: "d", UserDomainName: "D",
		ProjectID: "p", ProjectName: "q", ProjectDomainID: "e", ProjectDomainName: "E"}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header = http.Header{}
	Set(r, full)
	if count(full) != len(r.Header) || len(r.Header) != maxHeaders {
		t.Errorf("full identity: count = %d, Set wrote %d, maxHeaders %d", count(full), len(r.Header), maxHeaders)
	}
}
