package authtoken

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vietstack/vietstack-api/pipeline"
)

// seen is what the recording app saw of one request.
type seen struct {
	header   http.Header
	identity *pipeline.Identity
}

// recorder is the app behind the filter: it records the request and
// answers 200, or the status in X-Test-Status.
type recorder struct {
	mu   sync.Mutex
	last *seen
	n    int
}

func (a *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := &seen{header: r.Header.Clone()}
	if st := pipeline.RequestFrom(r); st != nil && st.Identity != nil {
		id := *st.Identity
		s.identity = &id
	}
	a.mu.Lock()
	a.last, a.n = s, a.n+1
	a.mu.Unlock()
	if r.Header.Get("X-Test-Status") == "401" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	io.WriteString(w, "ok")
}

func (a *recorder) take() *seen {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.last
	a.last = nil
	return s
}

// newTestFilter builds the filter for ks with o adjusted by mod, in front
// of a recorder, under a pipeline root.
func newTestFilter(t *testing.T, ks *ksInstance, mod func(*Options)) (*Filter, http.Handler, *recorder) {
	t.Helper()
	o := ks.options()
	if mod != nil {
		mod(&o)
	}
	f, err := New(o, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	app := &recorder{}
	return f, pipeline.Root(f.Middleware(app)), app
}

// do sends one request with the headers given as name, value pairs.
func do(h http.Handler, method string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "/v1/servers", nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

const wantUnauthorizedBody = `{"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}`

func check401(t *testing.T, w *httptest.ResponseRecorder, app *recorder) {
	t.Helper()
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401 (body %q)", w.Code, w.Body.String())
	}
	if got := w.Header().Get("WWW-Authenticate"); got != `Keystone uri="https://keystone.example.test/v3"` {
		t.Errorf("WWW-Authenticate %q", got)
	}
	if got := w.Header().Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type %q", got)
	}
	if w.Body.String() != wantUnauthorizedBody {
		t.Errorf("body %q", w.Body.String())
	}
	if s := app.take(); s != nil {
		t.Errorf("the app was called for a rejected request")
	}
}

func roleSet(v string) []string {
	if v == "" {
		return nil
	}
	r := strings.Split(v, ",")
	sort.Strings(r)
	return r
}

// spoofed are client-sent identity headers that must never reach the app.
var spoofed = []string{
	"X-Roles", "admin", "X_Roles", "admin", "x-roles", "admin,service",
	"X-Identity-Status", "Confirmed", "X-User-Id", "evil", "X_User_Id", "evil",
	"X-Project-Id", "evil", "X-Tenant-Id", "evil", "X-Is-Admin-Project", "True",
	"X-Service-Roles", "admin", "X-Service-Identity-Status", "Confirmed",
	"OpenStack-System-Scope", "all", "X-Domain-Id", "evil", "X-Service-Catalog", "[]",
	"X-Remote-User", "evil",
}

func noSpoofed(t *testing.T, h http.Header) {
	t.Helper()
	if v := h.Get("X-Service-Catalog"); v == "[]" {
		t.Errorf("client-sent X-Service-Catalog reached the app")
	}
	for k, v := range h {
		if k == "X-Service-Catalog" {
			continue
		}
		for _, s := range v {
			if strings.Contains(s, "evil") || strings.Contains(s, "admin") || k == "X_roles" || k == "X_user_id" || k == "X-Remote-User" {
				t.Errorf("client-sent %s: %q reached the app", k, s)
			}
		}
	}
}

func TestKeystoneValidToken(t *testing.T) {
	needKeystone(t)
	ks := ksMain
	_, h, app := newTestFilter(t, ks, nil)
	tok := ks.issue(t, "demo", ks.seed["DEMO_PASSWORD"], "demo")
	for _, method := range []string{"GET", "HEAD"} {
		w := do(h, method, append([]string{"X-Auth-Token", tok}, spoofed...)...)
		if w.Code != 200 {
			t.Fatalf("%s: status %d %s", method, w.Code, w.Body)
		}
		s := app.take()
		got := s.header
		want := map[string]string{
			"X-Identity-Status":     "Confirmed",
			"X-User-Id":             ks.seed["DEMO_USER_ID"],
			"X-User-Name":           "demo",
			"X-User-Domain-Id":      "default",
			"X-User-Domain-Name":    "Default",
			"X-Project-Id":          ks.seed["DEMO_PROJECT_ID"],
			"X-Project-Name":        "demo",
			"X-Project-Domain-Id":   "default",
			"X-Project-Domain-Name": "Default",
			"X-Is-Admin-Project":    "True",
			"X-User":                "demo",
			"X-Tenant-Id":           ks.seed["DEMO_PROJECT_ID"],
			"X-Tenant-Name":         "demo",
			"X-Tenant":              "demo",
			"X-Auth-Token":          tok,
		}
		for k, v := range want {
			if vs := got.Values(k); len(vs) != 1 || vs[0] != v {
				t.Errorf("%s: %s = %q, want %q", method, k, vs, v)
			}
		}
		for _, k := range []string{"X-Roles", "X-Role"} {
			if r := roleSet(got.Get(k)); !slices.Equal(r, []string{"member", "reader"}) {
				t.Errorf("%s = %q, want member and reader", k, got.Get(k))
			}
		}
		for _, k := range []string{"X-Domain-Id", "X-Domain-Name", "Openstack-System-Scope", "X-Service-Identity-Status", "X-Service-Roles"} {
			if v, ok := got[k]; ok {
				t.Errorf("%s present: %q", k, v)
			}
		}
		noSpoofed(t, got)
		var cat []struct {
			Type      string              `json:"type"`
			Name      string              `json:"name"`
			Endpoints []map[string]string `json:"endpoints"`
		}
		if err := json.Unmarshal([]byte(got.Get("X-Service-Catalog")), &cat); err != nil || len(cat) == 0 {
			t.Fatalf("X-Service-Catalog %q: %v", got.Get("X-Service-Catalog"), err)
		}
		if cat[0].Type != "identity" || cat[0].Endpoints[0]["region"] != "RegionOne" || cat[0].Endpoints[0]["publicURL"] != ks.url {
			t.Errorf("X-Service-Catalog %q", got.Get("X-Service-Catalog"))
		}
		id := s.identity
		if id == nil || id.UserID != ks.seed["DEMO_USER_ID"] || id.ProjectID != ks.seed["DEMO_PROJECT_ID"] || id.AuthToken != tok {
			t.Errorf("request identity %+v", id)
		}
	}

	// An unscoped token: the user, no project, empty roles.
	un := ks.issue(t, "demo", ks.seed["DEMO_PASSWORD"], "")
	if w := do(h, "GET", "X-Auth-Token", un); w.Code != 200 {
		t.Fatalf("unscoped: %d", w.Code)
	}
	got := app.take().header
	if got.Get("X-User-Id") != ks.seed["DEMO_USER_ID"] || got.Get("X-Project-Id") != "" || got.Get("X-Tenant") != "" {
		t.Errorf("unscoped headers %v", got)
	}
	if v, ok := got["X-Roles"]; !ok || v[0] != "" {
		t.Errorf("unscoped X-Roles %q, want present and empty", v)
	}

	// X-Storage-Token is read when X-Auth-Token is absent.
	if w := do(h, "GET", "X-Storage-Token", tok); w.Code != 200 {
		t.Fatalf("X-Storage-Token: %d", w.Code)
	}
	app.take()

	// include_service_catalog = false: no catalog header.
	_, h2, app2 := newTestFilter(t, ks, func(o *Options) { o.IncludeServiceCatalog = false })
	if w := do(h2, "GET", "X-Auth-Token", tok); w.Code != 200 {
		t.Fatalf("no catalog: %d", w.Code)
	}
	if v := app2.take().header.Get("X-Service-Catalog"); v != "" {
		t.Errorf("X-Service-Catalog with include_service_catalog=false: %q", v)
	}

	// An app that reads no identity header: the caller goes in the request
	// state only, and the spoofed headers are stripped all the same.
	f, _, _ := newTestFilter(t, ks, nil)
	quiet := &quietRecorder{}
	w := do(pipeline.Root(f.Middleware(quiet)), "GET", append([]string{"X-Auth-Token", tok}, spoofed...)...)
	if w.Code != 200 {
		t.Fatalf("quiet app: status %d", w.Code)
	}
	s := quiet.take()
	for k := range s.header {
		if k != "X-Auth-Token" {
			t.Errorf("quiet app: %s reached it", k)
		}
	}
	if id := s.identity; id == nil || id.UserID != ks.seed["DEMO_USER_ID"] || id.ProjectID != ks.seed["DEMO_PROJECT_ID"] ||
		id.AuthToken != tok || !slices.Equal(roleSet(strings.Join(id.Roles, ",")), []string{"member", "reader"}) {
		t.Errorf("quiet app: request identity %+v", id)
	}
}

// quietRecorder is a recorder that reads no identity header.
type quietRecorder struct{ recorder }

func (*quietRecorder) ReadsIdentityHeaders() bool { return false }

func TestKeystoneRejected(t *testing.T) {
	needKeystone(t)
	ks := ksMain
	_, h, app := newTestFilter(t, ks, nil)
	expiredFormat := ks.issue(t, "demo", ks.seed["DEMO_PASSWORD"], "demo")
	for _, tc := range []struct {
		name string
		hdr  []string
	}{
		{"no token", nil},
		{"no token, spoofed identity", spoofed},
		{"garbage", []string{"X-Auth-Token", "gAAAAABnot-a-real-token"}},
		{"garbage, spoofed", append([]string{"X-Auth-Token", "garbage"}, spoofed...)},
		{"truncated real token", []string{"X-Auth-Token", expiredFormat[:len(expiredFormat)-10]}},
		{"huge token", []string{"X-Auth-Token", strings.Repeat("a", maxTokenLen+1)}},
		{"valid user, garbage service token", []string{"X-Auth-Token", expiredFormat, "X-Service-Token", "garbage"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, m := range []string{"GET", "HEAD", "POST"} {
				check401(t, do(h, m, tc.hdr...), app)
			}
		})
	}
}

func TestKeystoneRevoked(t *testing.T) {
	needKeystone(t)
	ks := ksMain
	_, cached, capp := newTestFilter(t, ks, func(o *Options) { o.TokenCacheTime = 2 })
	_, uncached, uapp := newTestFilter(t, ks, func(o *Options) { o.TokenCacheTime = -1 })
	tok := ks.issue(t, "demo", ks.seed["DEMO_PASSWORD"], "demo")
	for _, h := range []http.Handler{cached, uncached} {
		if w := do(h, "GET", "X-Auth-Token", tok); w.Code != 200 {
			t.Fatalf("before revocation: %d", w.Code)
		}
	}
	capp.take()
	uapp.take()
	ks.admin(t, "DELETE", "/auth/tokens", nil, nil, "X-Subject-Token", tok)
	start := time.Now()
	check401(t, do(uncached, "GET", "X-Auth-Token", tok), uapp)
	// As upstream: a cached validation outlives the revocation until
	// token_cache_time.
	if w := do(cached, "GET", "X-Auth-Token", tok); w.Code != 200 {
		t.Fatalf("cached, right after revocation: %d, want 200 until the cache time", w.Code)
	}
	capp.take()
	time.Sleep(time.Until(start.Add(2100 * time.Millisecond)))
	check401(t, do(cached, "GET", "X-Auth-Token", tok), capp)
}

func TestKeystoneRoleRemoved(t *testing.T) {
	needKeystone(t)
	ks := ksMain
	uid := ks.createUser(t, "rm-"+strings.ReplaceAll(t.Name(), "/", "-"), "rm-secret")
	time.Sleep(1100 * time.Millisecond) // past the second of any revocation event
	tok := ks.issue(t, "rm-"+strings.ReplaceAll(t.Name(), "/", "-"), "rm-secret", "demo")
	_, h, app := newTestFilter(t, ks, func(o *Options) { o.TokenCacheTime = 2 })
	if w := do(h, "GET", "X-Auth-Token", tok); w.Code != 200 {
		t.Fatalf("with the role: %d", w.Code)
	}
	if got := app.take().header.Get("X-User-Id"); got != uid {
		t.Fatalf("X-User-Id %q, want %q", got, uid)
	}
	ks.admin(t, "DELETE", "/projects/"+ks.seed["DEMO_PROJECT_ID"]+"/users/"+uid+"/roles/"+ks.seed["MEMBER_ROLE_ID"], nil, nil)
	removed := time.Now()
	if w := do(h, "GET", "X-Auth-Token", tok); w.Code != 200 {
		t.Fatalf("right after removal (cached): %d", w.Code)
	}
	app.take()
	time.Sleep(time.Until(removed.Add(2100 * time.Millisecond)))
	check401(t, do(h, "GET", "X-Auth-Token", tok), app)
}

func TestKeystoneServiceToken(t *testing.T) {
	needKeystone(t)
	ks := ksMain
	user := ks.issue(t, "demo", ks.seed["DEMO_PASSWORD"], "demo")
	svc := ks.issue(t, ks.seed["SERVICE_USER"], ks.seed["SERVICE_PASSWORD"], ks.seed["SERVICE_PROJECT"])
	memberOnly := ks.issue(t, "demo", ks.seed["DEMO_PASSWORD"], "demo")

	_, h, app := newTestFilter(t, ks, nil)
	if w := do(h, "GET", "X-Auth-Token", user, "X-Service-Token", svc); w.Code != 200 {
		t.Fatalf("user + service token: %d", w.Code)
	}
	got := app.take().header
	for k, v := range map[string]string{
		"X-Identity-Status":         "Confirmed",
		"X-User-Name":               "demo",
		"X-Service-Identity-Status": "Confirmed",
		"X-Service-User-Id":         ks.seed["SERVICE_USER_ID"],
		"X-Service-User-Name":       ks.seed["SERVICE_USER"],
		"X-Service-Project-Id":      ks.seed["SERVICE_PROJECT_ID"],
		"X-Service-Project-Name":    "service",
		"X-Service-User-Domain-Id":  "default",
		"X-Service-Roles":           "service",
	} {
		if got.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, got.Get(k), v)
		}
	}
	if _, ok := got["X-Service-Is-Admin-Project"]; ok {
		t.Errorf("X-Service-Is-Admin-Project set")
	}

	// A service token without the service role: 401 when roles are
	// required, Confirmed when they are not.
	check401(t, do(h, "GET", "X-Auth-Token", user, "X-Service-Token", memberOnly), app)
	_, lax, lapp := newTestFilter(t, ks, func(o *Options) { o.ServiceTokenRolesRequired = false })
	if w := do(lax, "GET", "X-Auth-Token", user, "X-Service-Token", memberOnly); w.Code != 200 {
		t.Fatalf("roles not required: %d", w.Code)
	}
	if got := lapp.take().header.Get("X-Service-Identity-Status"); got != "Confirmed" {
		t.Errorf("roles not required: X-Service-Identity-Status %q", got)
	}

	// With delay_auth_decision a bad service token is reported, not fatal.
	_, dh, dapp := newTestFilter(t, ks, func(o *Options) { o.DelayAuthDecision = true })
	if w := do(dh, "GET", "X-Auth-Token", user, "X-Service-Token", "garbage"); w.Code != 200 {
		t.Fatalf("delay, bad service token: %d", w.Code)
	}
	got = dapp.take().header
	if got.Get("X-Identity-Status") != "Confirmed" || got.Get("X-Service-Identity-Status") != "Invalid" || got.Get("X-Service-Roles") != "" {
		t.Errorf("delay, bad service token: %v", got)
	}
}

func TestKeystoneDelayAuthDecision(t *testing.T) {
	needKeystone(t)
	ks := ksMain
	_, h, app := newTestFilter(t, ks, func(o *Options) { o.DelayAuthDecision = true })
	for _, tc := range []struct {
		name string
		hdr  []string
	}{
		{"no token", spoofed},
		{"garbage token", append([]string{"X-Auth-Token", "garbage"}, spoofed...)},
	} {
		w := do(h, "GET", tc.hdr...)
		if w.Code != 200 {
			t.Fatalf("%s: %d", tc.name, w.Code)
		}
		got := app.take().header
		if vs := got.Values("X-Identity-Status"); len(vs) != 1 || vs[0] != "Invalid" {
			t.Errorf("%s: X-Identity-Status %q", tc.name, vs)
		}
		noSpoofed(t, got)
		for _, k := range []string{"X-User-Id", "X-Roles", "X-Project-Id", "Openstack-System-Scope", "X-Service-Catalog"} {
			if _, ok := got[k]; ok {
				t.Errorf("%s: %s reached the app", tc.name, k)
			}
		}
	}
	// The app's own 401 gets the challenge.
	w := do(h, "GET", "X-Test-Status", "401")
	if w.Code != 401 || w.Header().Get("WWW-Authenticate") != `Keystone uri="https://keystone.example.test/v3"` {
		t.Errorf("app 401: %d %q", w.Code, w.Header().Get("WWW-Authenticate"))
	}
	app.take()
	// ... and a valid token still gets Confirmed.
	tok := ks.issue(t, "demo", ks.seed["DEMO_PASSWORD"], "demo")
	if w := do(h, "GET", "X-Auth-Token", tok); w.Code != 200 || app.take().header.Get("X-Identity-Status") != "Confirmed" {
		t.Errorf("delay, valid token: %d", w.Code)
	}
}

func TestKeystoneReauthenticatesOn401(t *testing.T) {
	needKeystone(t)
	ks := ksMain
	f, h, app := newTestFilter(t, ks, func(o *Options) { o.TokenCacheTime = -1 })
	tok := ks.issue(t, "demo", ks.seed["DEMO_PASSWORD"], "demo")
	if w := do(h, "GET", "X-Auth-Token", tok); w.Code != 200 {
		t.Fatalf("first: %d", w.Code)
	}
	app.take()
	before := f.ks.nAuth.Load()
	// Keystone no longer accepts the filter's token (as after a key
	// rotation or a revocation): the next validation gets 401.
	f.ks.mu.Lock()
	f.ks.tok = "gAAAAAB-rejected-service-token"
	f.ks.mu.Unlock()
	if w := do(h, "GET", "X-Auth-Token", tok); w.Code != 200 {
		t.Fatalf("after the service token was rejected: %d %s", w.Code, w.Body)
	}
	app.take()
	if n := f.ks.nAuth.Load(); n != before+1 {
		t.Errorf("authentications %d -> %d, want one more", before, n)
	}
}

func TestKeystoneServiceTokenRenewal(t *testing.T) {
	ks := needShort(t)
	f, h, app := newTestFilter(t, ks, func(o *Options) { o.TokenCacheTime = -1 })
	old := ks.issue(t, "demo", ks.seed["DEMO_PASSWORD"], "demo")
	var user string
	var issued time.Time
	// Initial authentication, renewal at 2/3 of the lifetime, another at
	// 4/3: three authentications within 1.7 lifetimes.
	run := time.Duration(shortLifetime) * 1700 * time.Millisecond
	begin := time.Now()
	deadline := begin.Add(run)
	n := 0
	for time.Now().Before(deadline) {
		if time.Since(issued) > time.Duration(shortLifetime)*time.Second/2 {
			user = ks.issue(t, "demo", ks.seed["DEMO_PASSWORD"], "demo")
			issued = time.Now()
		}
		if w := do(h, "GET", "X-Auth-Token", user); w.Code != 200 {
			t.Fatalf("request %d at +%v: %d %s", n, time.Since(begin), w.Code, w.Body)
		}
		app.take()
		n++
		time.Sleep(200 * time.Millisecond)
	}
	if got := f.ks.nAuth.Load(); got < 3 {
		t.Errorf("%d service authentications in %v with %d s tokens, want at least 3", got, run, shortLifetime)
	}
	// The first user token has expired by now: alone it is refused, with a
	// valid X-Service-Token (role service) it is accepted (allow_expired).
	check401(t, do(h, "GET", "X-Auth-Token", old), app)
	svc := ks.issue(t, ks.seed["SERVICE_USER"], ks.seed["SERVICE_PASSWORD"], ks.seed["SERVICE_PROJECT"])
	if w := do(h, "GET", "X-Auth-Token", old, "X-Service-Token", svc); w.Code != 200 {
		t.Errorf("expired user token with a service token: %d, want 200", w.Code)
	} else if s := app.take(); s.header.Get("X-Identity-Status") != "Confirmed" || s.header.Get("X-Service-Identity-Status") != "Confirmed" {
		t.Errorf("expired user token with a service token: %v", s.header)
	}
	// Close stops the renewal loop: no more authentications.
	f.Close()
	after := f.ks.nAuth.Load()
	time.Sleep(time.Duration(shortLifetime) * time.Second / 2)
	if f.ks.nAuth.Load() != after {
		t.Errorf("authentications continued after Close")
	}
}

// TestKeystoneUnreachable stops the short-lived-token Keystone: it must
// be the last test that uses it. Its tokens live shortLifetime seconds,
// longer than the 2 s cache time used here.
func TestKeystoneUnreachable(t *testing.T) {
	ks := needShort(t)
	_, long, lapp := newTestFilter(t, ks, nil)
	_, short, sapp := newTestFilter(t, ks, func(o *Options) { o.TokenCacheTime = 2 })
	_, delay, dapp := newTestFilter(t, ks, func(o *Options) { o.DelayAuthDecision = true })
	tok := ks.issue(t, "demo", ks.seed["DEMO_PASSWORD"], "demo")
	uncached := ks.issue(t, "demo", ks.seed["DEMO_PASSWORD"], "demo")
	for _, h := range []http.Handler{long, short} {
		if w := do(h, "GET", "X-Auth-Token", tok); w.Code != 200 {
			t.Fatalf("before the stop: %d", w.Code)
		}
	}
	lapp.take()
	sapp.take()
	if err := ks.stop(); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()

	if w := do(long, "GET", "X-Auth-Token", tok); w.Code != 200 {
		t.Errorf("cached token with Keystone down: %d, want 200", w.Code)
	}
	lapp.take()
	w := do(long, "GET", "X-Auth-Token", uncached, "Accept", "text/html")
	if w.Code != 503 || !strings.Contains(w.Body.String(), "The Keystone service is temporarily unavailable.") ||
		w.Header().Get("Content-Type") != "text/html; charset=UTF-8" {
		t.Errorf("uncached token with Keystone down: %d %q %q", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	if lapp.take() != nil {
		t.Errorf("the app was called for a 503")
	}
	check401(t, do(long, "GET"), lapp) // no token: 401 without asking Keystone
	w = do(delay, "GET", append([]string{"X-Auth-Token", uncached}, spoofed...)...)
	if w.Code != 200 {
		t.Errorf("delay_auth_decision with Keystone down: %d", w.Code)
	} else {
		got := dapp.take().header
		if got.Get("X-Identity-Status") != "Invalid" {
			t.Errorf("delay_auth_decision with Keystone down: X-Identity-Status %q", got.Get("X-Identity-Status"))
		}
		noSpoofed(t, got)
	}
	// The short cache runs out: 503.
	time.Sleep(time.Until(stopped.Add(2100 * time.Millisecond)))
	if w := do(short, "GET", "X-Auth-Token", tok); w.Code != 503 {
		t.Errorf("after the cache time with Keystone down: %d, want 503", w.Code)
	}
}
