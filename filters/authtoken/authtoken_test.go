package authtoken

// Bad-input tests: option checking, the oslo.config file, and answers a
// real Keystone never gives (errors, garbage, slowness, redirects), from
// an httptest server standing in for it.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vietstack/vietstack-api/pipeline"
)

func TestV2Catalog(t *testing.T) {
	in, err := os.ReadFile("testdata/catalog_v3.json")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/catalog_v2.golden")
	if err != nil {
		t.Fatal(err)
	}
	var cat []v3Service
	if err := json.Unmarshal(in, &cat); err != nil {
		t.Fatal(err)
	}
	// The golden file is keystonemiddleware's own output for the input.
	if got := v2Catalog(cat); got != string(want) {
		t.Errorf("v2Catalog:\n got %s\nwant %s", got, want)
	}
}

// localConfig returns a Config for the auth_token section with opts.
func localConfig(opts map[string]string) *pipeline.Config {
	return &pipeline.Config{Name: "filter:authtoken", Factory: "egg:keystonemiddleware#auth_token", Local: opts, Global: map[string]string{}}
}

func validLocal(url string) map[string]string {
	return map[string]string{
		"auth_url": url, "www_authenticate_uri": "https://ks.example/v3",
		"username": "svc", "password": "pw", "project_name": "service",
		"user_domain_name": "Default", "project_domain_name": "Default",
	}
}

func TestFactoryRejectsBadOptions(t *testing.T) {
	tmp := t.TempDir()
	notPEM := filepath.Join(tmp, "ca.pem")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o644)
	for _, tc := range []struct {
		name string
		set  map[string]string
		del  []string
		want string
	}{
		{"no auth_url", nil, []string{"auth_url"}, "auth_url: required"},
		{"relative auth_url", map[string]string{"auth_url": "keystone:5000"}, nil, "not an absolute http(s) URL"},
		{"auth_url with credentials", map[string]string{"auth_url": "http://u:secret@ks/v3"}, nil, "credentials do not belong"},
		{"quote in www_authenticate_uri", map[string]string{"www_authenticate_uri": `http://ks/"x`}, nil, "quotes"},
		{"unsupported auth_type", map[string]string{"auth_type": "v3token"}, nil, `auth_type: "v3token" is not supported`},
		{"no user", nil, []string{"username"}, "username: the service user is required"},
		{"no user domain", nil, []string{"user_domain_name"}, "user_domain_name"},
		{"no password", nil, []string{"password"}, "password: the service user's password is required"},
		{"no scope", nil, []string{"project_name"}, "project_name: the service token needs a scope"},
		{"no project domain", nil, []string{"project_domain_name"}, "project_domain_name"},
		{"bad system scope", map[string]string{"system_scope": "some"}, []string{"project_name"}, "system_scope"},
		{"misspelt boolean", map[string]string{"insecure": "flase"}, nil, "insecure: invalid boolean"},
		{"bad cache time", map[string]string{"token_cache_time": "-2"}, nil, "token_cache_time"},
		{"cache time not a number", map[string]string{"token_cache_time": "5m"}, nil, "token_cache_time: invalid integer"},
		{"too many retries", map[string]string{"http_request_max_retries": "11"}, nil, "http_request_max_retries"},
		{"zero timeout", map[string]string{"http_connect_timeout": "0"}, nil, "http_connect_timeout"},
		{"unknown option", map[string]string{"delay_auth_decison": "true"}, nil, `did you mean "delay_auth_decision"`},
		{"missing cafile", map[string]string{"cafile": filepath.Join(tmp, "nope.pem")}, nil, "cafile: open"},
		{"cafile without certificates", map[string]string{"cafile": notPEM}, nil, "holds no PEM certificate"},
		{"certfile without keyfile", map[string]string{"certfile": notPEM}, nil, "certfile and keyfile go together"},
		{"no service roles", map[string]string{"service_token_roles": ""}, nil, "service_token_roles"},
		{"missing oslo file", map[string]string{"oslo_config_file": filepath.Join(tmp, "nova.conf")}, nil, "oslo_config_file: reading the oslo.config file"},
		{"oslo project without file", map[string]string{"oslo_config_project": "no-such-project-xyz"}, nil, "no no-such-project-xyz.conf in"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			local := validLocal("http://127.0.0.1:1/v3")
			for _, k := range tc.del {
				delete(local, k)
			}
			for k, v := range tc.set {
				local[k] = v
			}
			mw, err := Factory(context.Background(), localConfig(local))
			if err == nil {
				t.Fatalf("no error (middleware %v)", mw != nil)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error leaks a secret: %q", err)
			}
		})
	}
}

func TestFactoryObsoleteOptions(t *testing.T) {
	o := Options{AdminUser: "nova", AdminPassword: "pw", AdminTenantName: "service",
		AuthHost: "keystone", AuthPort: 35357, AuthProtocol: "http", AuthType: "password",
		ServiceTokenRoles: []string{"service"}, TokenCacheTime: 300, TokenCacheMaxEntries: 10,
		HTTPConnectTimeout: time.Second}
	if err := o.normalize(discard()); err != nil {
		t.Fatal(err)
	}
	if o.Username != "nova" || o.Password != "pw" || o.ProjectName != "service" || o.UserDomainID != "default" ||
		o.ProjectDomainID != "default" || o.AuthURL != "http://keystone:35357" || o.WWWAuthenticateURI != o.AuthURL {
		t.Errorf("obsolete options mapped to %+v", o)
	}
}

func TestOsloConfigFile(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "nova.conf")
	os.WriteFile(conf, []byte(`[DEFAULT]
ks_host = 127.0.0.1

[keystone_authtoken]
# from the service's own file
www_authenticate_uri = https://public.example/identity
auth_url = http://$ks_host:5000/v3
auth_section = auth_creds
username = from-oslo
memcached_servers = 127.0.0.1:11211
token_cache_time = 42
some_future_option = ignored

[auth_creds]
password = pa$$word
user_domain_name = Default
project_name = service
project_domain_name = Default
`), 0o644)
	local := map[string]string{"oslo_config_file": "nova.conf", "username": "from-paste"}
	c := localConfig(local)
	c.Global["here"] = dir
	m, err := mergeOslo(c)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"username": "from-paste", "auth_url": "http://127.0.0.1:5000/v3", "password": "pa$word",
		"token_cache_time": "42", "www_authenticate_uri": "https://public.example/identity",
		"project_name": "service", "user_domain_name": "Default",
	}
	for k, v := range want {
		if m.local[k] != v {
			t.Errorf("%s = %q, want %q", k, m.local[k], v)
		}
	}
	if _, ok := m.local["some_future_option"]; ok {
		t.Errorf("unknown oslo option kept")
	}
	cc := *c
	cc.Local = m.local
	var o Options
	if err := cc.Decode(&o); err != nil {
		t.Fatal(err)
	}
	f, err := New(o, discard())
	if err != nil {
		t.Fatalf("New with the oslo file: %v", err)
	}
	f.Close()
	if o.TokenCacheTime != 42 || o.Username != "from-paste" || len(o.MemcachedServers) != 1 {
		t.Errorf("decoded %+v", o)
	}

	// A bad value in the oslo file is reported at its line there.
	os.WriteFile(conf, []byte("[keystone_authtoken]\nauth_url = http://ks/v3\n\ninsecure = maybe\n"), 0o644)
	_, err = Factory(context.Background(), c)
	if err == nil || !strings.Contains(err.Error(), conf+":4: [keystone_authtoken] insecure: invalid boolean") {
		t.Errorf("bad oslo value: %v", err)
	}
	os.WriteFile(conf, []byte("[keystone_authtoken]\nauth_url = http://ks/v3\nauth_type = token\n"), 0o644)
	_, err = Factory(context.Background(), c)
	if err == nil || !strings.Contains(err.Error(), conf+":3: [keystone_authtoken] auth_type") {
		t.Errorf("bad oslo auth_type: %v", err)
	}
	os.WriteFile(conf, []byte("[keystone_authtoken]\npassword = $undefined\n"), 0o644)
	_, err = Factory(context.Background(), c)
	if err == nil || !strings.Contains(err.Error(), conf+":2:") || !strings.Contains(err.Error(), "$$") {
		t.Errorf("bad substitution: %v", err)
	}
	os.WriteFile(conf, []byte("auth_url = http://ks/v3\n"), 0o644)
	_, err = Factory(context.Background(), c)
	if err == nil || !strings.Contains(err.Error(), conf+":1:") {
		t.Errorf("option outside a section: %v", err)
	}
}

// fakeKeystone stands in for Keystone where a real one cannot misbehave
// on demand. validate answers GET /v3/auth/tokens.
type fakeKeystone struct {
	*httptest.Server
	auths, validations atomic.Int64
	validate           func(w http.ResponseWriter, r *http.Request)
	authStatus         int
}

const fakeToken = `{"token": {"expires_at": "%s", "issued_at": "%s",
 "user": {"id": "u1", "name": "alice", "domain": {"id": "default", "name": "Default"}},
 "project": {"id": "p1", "name": "proj", "domain": {"id": "default", "name": "Default"}},
 "roles": [{"id": "r1", "name": "member"}]}}`

func newFakeKeystone(t testing.TB, validate func(w http.ResponseWriter, r *http.Request)) *fakeKeystone {
	fk := &fakeKeystone{validate: validate, authStatus: http.StatusCreated}
	fk.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == "POST" && r.URL.Path == "/v3/auth/tokens":
			fk.auths.Add(1)
			if fk.authStatus != http.StatusCreated {
				w.WriteHeader(fk.authStatus)
				return
			}
			now := time.Now().UTC()
			w.Header().Set("X-Subject-Token", fmt.Sprintf("svc-token-%d", fk.auths.Load()))
			w.WriteHeader(http.StatusCreated)
			fmt.Fprintf(w, fakeToken, now.Add(time.Hour).Format(time.RFC3339Nano), now.Format(time.RFC3339Nano))
		case r.Method == "GET" && r.URL.Path == "/v3/auth/tokens":
			fk.validations.Add(1)
			if !strings.HasPrefix(r.Header.Get("X-Auth-Token"), "svc-token-") || r.Header.Get("X-Subject-Token") == "" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			fk.validate(w, r)
		case r.URL.Path == "/" || r.URL.Path == "/identity/":
			w.WriteHeader(http.StatusMultipleChoices)
			fmt.Fprintf(w, `{"versions": {"values": [{"id": "v3.14", "status": "stable", "links": [{"rel": "self", "href": "http://%s/v3/"}]}]}}`, r.Host)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(fk.Close)
	return fk
}

func validToken(w http.ResponseWriter, r *http.Request) {
	now := time.Now().UTC()
	fmt.Fprintf(w, fakeToken, now.Add(time.Hour).Format(time.RFC3339Nano), now.Format(time.RFC3339Nano))
}

func fakeFilter(t *testing.T, url string, mod func(*Options)) (*Filter, http.Handler, *recorder) {
	t.Helper()
	return fakeFilterLog(t, url, mod, discard())
}

func fakeFilterLog(t *testing.T, url string, mod func(*Options), log *slog.Logger) (*Filter, http.Handler, *recorder) {
	t.Helper()
	o := Options{
		WWWAuthenticateURI: "https://keystone.example.test/v3",
		AuthURL:            url, AuthType: "password", Username: "svc", Password: "pw",
		UserDomainName: "Default", ProjectName: "service", ProjectDomainName: "Default",
		ServiceTokenRoles: []string{"service"}, ServiceTokenRolesRequired: true,
		TokenCacheTime: 300, NegativeCacheTime: 5 * time.Second, TokenCacheMaxEntries: 100,
		HTTPConnectTimeout: time.Second, HTTPRequestMaxRetries: 1,
	}
	if mod != nil {
		mod(&o)
	}
	f, err := New(o, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	app := &recorder{}
	return f, pipeline.Root(f.Middleware(app)), app
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func newTestLogger(b *strings.Builder, mu *sync.Mutex) *slog.Logger {
	return slog.New(slog.NewTextHandler(lockedWriter{mu, b}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestBadKeystoneAnswers(t *testing.T) {
	for _, tc := range []struct {
		name     string
		validate func(w http.ResponseWriter, r *http.Request)
		want     int
	}{
		{"500", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }, 503},
		{"403 (service user lacks the service role)", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(403) }, 503},
		{"400", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(400) }, 503},
		{"404 means invalid", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404) }, 401},
		{"garbage JSON", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "{not json") }, 503},
		{"token without user", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"token": {"expires_at": "2099-01-01T00:00:00.000000Z"}}`)
		}, 503},
		{"control character in a name", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"token": {"expires_at": "2099-01-01T00:00:00.000000Z", "user": {"id": "u", "name": "a\r\nX-Roles: admin"}}}`)
		}, 503},
		{"oversized answer", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"token": {"x": "`+strings.Repeat("a", maxTokenBody)+`"}}`)
		}, 503},
		{"expired token", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"token": {"expires_at": "2001-01-01T00:00:00.000000Z", "user": {"id": "u", "name": "a"}}}`)
		}, 401},
		{"slower than http_connect_timeout", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-time.After(3 * time.Second):
			case <-r.Context().Done():
			}
		}, 503},
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://127.0.0.1:1/steal", http.StatusFound)
		}, 503},
		{"valid", validToken, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fk := newFakeKeystone(t, tc.validate)
			_, h, app := fakeFilter(t, fk.URL+"/v3", nil)
			start := time.Now()
			w := do(h, "GET", "X-Auth-Token", "user-token")
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d (%s)", w.Code, tc.want, w.Body)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v: the timeout does not bound it", d)
			}
			s := app.take()
			if (s != nil) != (tc.want == 200) {
				t.Errorf("app called: %v", s != nil)
			}
			if tc.want == 200 && (s.header.Get("X-User-Name") != "alice" || s.header.Get("X-Roles") != "member") {
				t.Errorf("headers %v", s.header)
			}
		})
	}
}

func TestServiceCredentialsRejected(t *testing.T) {
	fk := newFakeKeystone(t, validToken)
	fk.authStatus = http.StatusUnauthorized
	_, h, app := fakeFilter(t, fk.URL+"/v3", nil)
	if w := do(h, "GET", "X-Auth-Token", "user-token"); w.Code != 503 {
		t.Errorf("status %d, want 503", w.Code)
	}
	if app.take() != nil {
		t.Error("app called")
	}
	if fk.validations.Load() != 0 {
		t.Error("validated without a service token")
	}
}

func TestVersionDiscovery(t *testing.T) {
	fk := newFakeKeystone(t, validToken)
	for _, u := range []string{fk.URL, fk.URL + "/", fk.URL + "/identity"} {
		_, h, _ := fakeFilter(t, u, nil)
		if w := do(h, "GET", "X-Auth-Token", "user-token"); w.Code != 200 {
			t.Errorf("auth_url %s: %d", u, w.Code)
		}
	}
}

func TestCacheAndSingleFlight(t *testing.T) {
	release := make(chan struct{})
	fk := newFakeKeystone(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		if r.Header.Get("X-Subject-Token") == "user-token" {
			validToken(w, r)
			return
		}
		w.WriteHeader(404)
	})
	_, h, _ := fakeFilter(t, fk.URL+"/v3", func(o *Options) { o.TokenCacheMaxEntries = 50 })
	var wg sync.WaitGroup
	codes := make([]int, 40)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = do(h, "GET", "X-Auth-Token", "user-token").Code
		}()
	}
	time.Sleep(100 * time.Millisecond)
	close(release)
	wg.Wait()
	for i, c := range codes {
		if c != 200 {
			t.Fatalf("request %d: %d", i, c)
		}
	}
	if n := fk.validations.Load(); n != 1 {
		t.Errorf("%d validations for 40 concurrent requests with one token, want 1", n)
	}
	// Invalid tokens are remembered briefly (negative cache) ...
	for range 3 {
		do(h, "GET", "X-Auth-Token", "bad-token")
	}
	if n := fk.validations.Load(); n != 2 {
		t.Errorf("%d validations after 3 requests with one invalid token, want 2", n)
	}
	// ... and a flood of distinct tokens cannot grow the cache past its bound.
	f, h2, _ := fakeFilter(t, fk.URL+"/v3", func(o *Options) { o.TokenCacheMaxEntries = 50 })
	for i := range 200 {
		do(h2, "GET", "X-Auth-Token", fmt.Sprintf("bad-%d", i))
	}
	if n := f.cache.len(); n > 50 {
		t.Errorf("cache holds %d entries, bound 50", n)
	}
}

func TestTokensNeverLogged(t *testing.T) {
	var buf strings.Builder
	var mu sync.Mutex
	fk := newFakeKeystone(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
	_, h, _ := fakeFilterLog(t, fk.URL+"/v3", nil, newTestLogger(&buf, &mu))
	do(h, "GET", "X-Auth-Token", "secret-user-token-123", "X-Service-Token", "secret-service-token-456")
	do(h, "GET", "X-Auth-Token", "secret-user-token-123")
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if out == "" {
		t.Fatal("nothing logged for a 503")
	}
	if strings.Contains(out, "secret-") || strings.Contains(out, "svc-token-") {
		t.Errorf("a token reached the log:\n%s", out)
	}
	if !strings.Contains(out, tokenID("secret-user-token-123")) {
		t.Errorf("log lacks the token hash:\n%s", out)
	}
}

// BenchmarkCachedToken measures a request whose token validation is
// cached: the per-request cost of the filter.
func BenchmarkCachedToken(b *testing.B) {
	fk := newFakeKeystone(b, validToken)
	o := Options{
		WWWAuthenticateURI: "https://ks/v3", AuthURL: fk.URL + "/v3", AuthType: "password",
		Username: "svc", Password: "pw", UserDomainName: "Default", ProjectName: "service", ProjectDomainName: "Default",
		ServiceTokenRoles: []string{"service"}, TokenCacheTime: 300, TokenCacheMaxEntries: 100,
		HTTPConnectTimeout: time.Second, IncludeServiceCatalog: true,
	}
	f, err := New(o, discard())
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	h := pipeline.Root(f.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	r := httptest.NewRequest("GET", "/", nil)
	w := httptest.NewRecorder()
	r.Header.Set("X-Auth-Token", "user-token")
	h.ServeHTTP(w, r)
	if w.Code != 200 {
		b.Fatal(w.Code)
	}
	b.ReportAllocs()
	for b.Loop() {
		r.Header = http.Header{"X-Auth-Token": {"user-token"}, "X-Roles": {"admin"}}
		h.ServeHTTP(w, r)
	}
}

func TestPublicRoutes(t *testing.T) {
	fk := newFakeKeystone(t, validToken)
	_, h, app := fakeFilter(t, fk.URL+"/v3", func(o *Options) { o.AclPublicRoutes = []string{"/", "/v1"} })
	for _, tc := range []struct {
		path   string
		public bool
	}{
		{"/", true}, {"/v1", true}, {"/v1/", true}, {"/v1.json", true},
		{"/v1/servers", false}, {"/v10", false}, {"/x/v1", false}, {"//", false}, // as magnum: "//" stays "//"
	} {
		r := httptest.NewRequest("GET", "http://x"+tc.path, nil)
		r.Header.Set("X-Roles", "admin")
		r.Header.Set("X-Identity-Status", "Confirmed")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		s := app.take()
		if tc.public {
			if w.Code != 200 || s == nil {
				t.Errorf("%s: %d, want a public 200", tc.path, w.Code)
				continue
			}
			if s.header.Get("X-Roles") != "" || s.header.Get("X-Identity-Status") != "" {
				t.Errorf("%s: client identity headers reached the app on a public route: %v", tc.path, s.header)
			}
		} else if w.Code != 401 {
			t.Errorf("%s: %d, want 401", tc.path, w.Code)
		}
	}
	if _, err := Factory(context.Background(), localConfig(map[string]string{
		"auth_url": "http://ks/v3", "username": "u", "password": "p", "user_domain_id": "default",
		"project_id": "p", "acl_public_routes": "/(v1"})); err == nil || !strings.Contains(err.Error(), "acl_public_routes") {
		t.Errorf("bad route: %v", err)
	}
	reg := pipeline.NewRegistry()
	Register(reg)
	for _, a := range append(append([]string{"auth_token"}, Aliases...), PublicRoutesAliases...) {
		if f, ok := reg.Lookup(a, pipeline.KindFilter); !ok || f.Name != "auth_token" {
			t.Errorf("%s does not resolve to auth_token", a)
		}
	}
}

func TestRetries(t *testing.T) {
	for _, tc := range []struct {
		retries, failures int
		want              int
	}{
		{2, 2, 200}, {1, 2, 503}, {0, 1, 503}, {3, 0, 200},
	} {
		var calls atomic.Int64
		fk := newFakeKeystone(t, func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) <= int64(tc.failures) {
				// Drop the connection without an answer.
				conn, _, err := http.NewResponseController(w).Hijack()
				if err == nil {
					conn.Close()
				}
				return
			}
			validToken(w, r)
		})
		// No connection reuse: Go's transport itself retries a request
		// once when a reused keep-alive connection turns out closed.
		fk.Config.SetKeepAlivesEnabled(false)
		_, h, _ := fakeFilter(t, fk.URL+"/v3", func(o *Options) { o.HTTPRequestMaxRetries = tc.retries })
		if w := do(h, "GET", "X-Auth-Token", "user-token"); w.Code != tc.want {
			t.Errorf("retries %d, %d failures: %d, want %d", tc.retries, tc.failures, w.Code, tc.want)
		}
		if want := int64(min(tc.failures, tc.retries) + 1); calls.Load() != want {
			t.Errorf("retries %d, %d failures: %d attempts, want %d", tc.retries, tc.failures, calls.Load(), want)
		}
	}
}
