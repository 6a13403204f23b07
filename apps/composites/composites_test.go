package composites

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vietstack/vietstack-api/apps/echo"
	"github.com/vietstack/vietstack-api/apps/text"
	"github.com/vietstack/vietstack-api/filters/keystonecontext"
	"github.com/vietstack/vietstack-api/filters/noauth"
	"github.com/vietstack/vietstack-api/pipeline"
	"github.com/vietstack/vietstack-api/pipeline/paste"
)

// fakeLoader loads filters that append their name to X-Trace and apps
// that answer their name and the trace.
type fakeLoader struct {
	loaded []string
	fail   map[string]bool
}

func (l *fakeLoader) LoadFilter(_ context.Context, name string) (pipeline.Middleware, error) {
	l.loaded = append(l.loaded, "filter:"+name)
	if l.fail[name] {
		return nil, errors.New("unknown filter " + name)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Header.Add("X-Trace", name)
			next.ServeHTTP(w, r)
		})
	}, nil
}

func (l *fakeLoader) LoadApp(_ context.Context, name string) (http.Handler, error) {
	l.loaded = append(l.loaded, "app:"+name)
	if l.fail[name] {
		return nil, errors.New("unknown app " + name)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(name + ":" + strings.Join(r.Header.Values("X-Trace"), ",")))
	}), nil
}

func TestCompose(t *testing.T) {
	l := &fakeLoader{}
	h, err := Compose(context.Background(), l, "  a\tb  c app ")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(l.loaded, " "); got != "filter:a filter:b filter:c app:app" {
		t.Errorf("load order %q", got)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Body.String() != "app:a,b,c" {
		t.Errorf("first filter must be outermost: %q", w.Body.String())
	}

	l = &fakeLoader{fail: map[string]bool{"b": true, "app": true}}
	_, err = Compose(context.Background(), l, "a b c app")
	if err == nil || !strings.Contains(err.Error(), "unknown filter b") || !strings.Contains(err.Error(), "unknown app app") {
		t.Errorf("every problem must be reported: %v", err)
	}
	if len(l.loaded) != 4 {
		t.Errorf("stopped at the first problem: %v", l.loaded)
	}
	if _, err := Compose(context.Background(), &fakeLoader{}, "  "); err == nil {
		t.Error("empty pipeline accepted")
	}
}

// build loads ini (written to a temp file) and builds entry point name
// with the composites, echo, noauth and keystonecontext registered.
func build(t testing.TB, ini, name string, globals map[string]string) (http.Handler, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "api-paste.ini")
	if err := os.WriteFile(p, []byte(ini), 0o644); err != nil {
		t.Fatal(err)
	}
	g, err := paste.Load(p, paste.Options{Name: name, Globals: globals})
	if err != nil {
		return nil, err
	}
	reg := pipeline.NewRegistry()
	Register(reg)
	echo.Register(reg)
	text.Register(reg)
	noauth.Register(reg)
	keystonecontext.Register(reg)
	gen, err := pipeline.Build(context.Background(), g, pipeline.BuildOptions{Registry: reg})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { gen.Close() })
	return gen.Handler, nil
}

func get(t *testing.T, h http.Handler, target string, hdr map[string]string) (int, echo.Doc) {
	t.Helper()
	r := httptest.NewRequest("GET", target, nil)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var d echo.Doc
	if w.Code == 200 {
		if err := json.Unmarshal(w.Body.Bytes(), &d); err != nil {
			t.Fatalf("%s: %v: %q", target, err, w.Body.String())
		}
	}
	return w.Code, d
}

const authIni = `
[composite:main]
use = call:nova.api.auth:pipeline_factory_v21
keystone = keystonecontext app_keystone
noauth2 = noauth keystonecontext app_noauth2
noauth2_nolimit = noauth keystonecontext app_nolimit
broken = nosuchfilter keystonecontext alsomissing app_keystone

[composite:cinder]
use = call:cinder.api.middleware.auth:pipeline_factory
noauth = noauth keystonecontext app_noauth2
noauth_nolimit = noauth keystonecontext app_nolimit

[filter:noauth]
paste.filter_factory = nova.api.openstack.auth:NoAuthMiddleware.factory

[filter:keystonecontext]
paste.filter_factory = nova.api.auth:NovaKeystoneContext.factory

[app:app_keystone]
use = egg:vietstack#echo
name = keystone

[app:app_noauth2]
use = egg:vietstack#echo
name = noauth2

[app:app_nolimit]
use = egg:vietstack#echo
name = nolimit
`

func TestAuthStrategy(t *testing.T) {
	tests := []struct {
		name    string
		entry   string
		globals map[string]string
		token   string
		code    int
		app     string
		wantErr string
	}{
		{"default keystone: no auth filter, so keystonecontext refuses", "main", nil, "", 401, "", ""},
		{"noauth2, nova prefers _nolimit by default", "main", map[string]string{"auth_strategy": "noauth2"}, "alice:demo", 200, "nolimit", ""},
		{"noauth2 with api_rate_limit true", "main", map[string]string{"auth_strategy": "noauth2", "api_rate_limit": "true"}, "alice:demo", 200, "noauth2", ""},
		{"noauth2 without token", "main", map[string]string{"auth_strategy": "noauth2"}, "", 401, "", ""},
		{"cinder keeps the limited pipeline by default", "cinder", map[string]string{"auth_strategy": "noauth"}, "bob", 200, "noauth2", ""},
		{"cinder with api_rate_limit false", "cinder", map[string]string{"auth_strategy": "noauth", "api_rate_limit": "False"}, "bob", 200, "nolimit", ""},
		{"unknown strategy", "main", map[string]string{"auth_strategy": "ldap"}, "", 0, "", `no pipeline for auth_strategy "ldap"`},
		{"bad api_rate_limit", "main", map[string]string{"auth_strategy": "noauth2", "api_rate_limit": "maybe"}, "", 0, "", "api_rate_limit"},
		{"cinder has no keystone pipeline here", "cinder", nil, "", 0, "", `no pipeline for auth_strategy "keystone"`},
		{"every unresolved element reported", "main", map[string]string{"auth_strategy": "broken"}, "", 0, "", "nosuchfilter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := build(t, authIni, tt.entry, tt.globals)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				if tt.entry == "main" && tt.globals["auth_strategy"] == "broken" && !strings.Contains(err.Error(), "alsomissing") {
					t.Errorf("second unresolved name not reported: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			hdr := map[string]string{"X-Roles": "admin"}
			if tt.token != "" {
				hdr["X-Auth-Token"] = tt.token
			}
			code, d := get(t, h, "/servers", hdr)
			if code != tt.code || d.Name != tt.app {
				t.Fatalf("got %d %q, want %d %q", code, d.Name, tt.code, tt.app)
			}
			if code == 200 && d.Headers["x-roles"] != "" {
				t.Errorf("spoofed X-Roles reached the app: %q", d.Headers["x-roles"])
			}
		})
	}
}

const flavorIni = `
[composite:main]
paste.composite_factory = glance.api:pipeline_factory
default = app_default
keystone = app_keystone
keystone+caching = noauth app_caching

[filter:noauth]
use = egg:vietstack#noauth

[app:app_default]
use = egg:vietstack#echo
name = default

[app:app_keystone]
use = egg:vietstack#echo
name = keystone

[app:app_caching]
use = egg:vietstack#echo
name = caching
`

func TestFlavor(t *testing.T) {
	tests := []struct {
		flavor, app string
		code        int
	}{
		{"", "default", 200},
		{"keystone", "keystone", 200},
		{"keystone+caching", "caching", 200},
	}
	for _, tt := range tests {
		var g map[string]string
		if tt.flavor != "" {
			g = map[string]string{"flavor": tt.flavor}
		}
		h, err := build(t, flavorIni, "main", g)
		if err != nil {
			t.Fatalf("flavor %q: %v", tt.flavor, err)
		}
		code, d := get(t, h, "/", map[string]string{"X-Auth-Token": "a:b"})
		if code != tt.code || d.Name != tt.app {
			t.Errorf("flavor %q: %d %q", tt.flavor, code, d.Name)
		}
	}
	if _, err := build(t, flavorIni, "main", map[string]string{"flavor": "caching"}); err == nil ||
		!strings.Contains(err.Error(), `no pipeline for flavor "caching"`) {
		t.Errorf("unknown flavor: %v", err)
	}
}

const novaIni = `
[composite:main]
use = call:nova.api.openstack.urlmap:urlmap_factory
/: versions
/v2: v2_doc
/v2.1: v21_doc
/v2/+: v2_api
/v2.1/+: v21_api
domain Compute.Example.Test /v2.1/+: v21_domain

[app:versions]
use = egg:vietstack#echo
name = versions

[app:v2_doc]
use = egg:vietstack#echo
name = v2_doc

[app:v21_doc]
use = egg:vietstack#echo
name = v21_doc

[app:v2_api]
use = egg:vietstack#echo
name = v2_api

[app:v21_api]
use = egg:vietstack#echo
name = v21_api

[app:v21_domain]
use = egg:vietstack#echo
name = v21_domain
`

func TestNovaURLMap(t *testing.T) {
	h, err := build(t, novaIni, "main", nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		target string
		hdr    map[string]string
		code   int
		app    string
		script string
		path   string
	}{
		{"/", nil, 200, "versions", "", "/"},
		{"/v2.1", nil, 200, "v21_doc", "/v2.1", ""},
		{"/v2.1/", nil, 200, "v21_doc", "/v2.1", "/"},
		{"/v2.1/servers", nil, 200, "v21_api", "/v2.1", "/servers"},
		{"/v2.1//servers//detail", nil, 200, "v21_api", "/v2.1", "/servers/detail"},
		{"/v2", nil, 200, "v2_doc", "/v2", ""},
		{"/v2/x", nil, 200, "v2_api", "/v2", "/x"},
		{"/v2.10", nil, 200, "versions", "", "/v2.10"},
		{"/v3/servers", nil, 200, "versions", "", "/v3/servers"},
		// version by media type: mounted without consuming the path
		{"/servers", map[string]string{"Content-Type": "application/json;version=2.1"}, 200, "v21_doc", "/v2.1", "/servers"},
		{"/servers", map[string]string{"Accept": "application/json; q=0.5; version=2, application/vnd.openstack.compute+json;version=2.1"}, 200, "v21_doc", "/v2.1", "/servers"},
		{"/servers", map[string]string{"Accept": "text/html;version=2.1"}, 200, "versions", "", "/servers"},
		{"/servers", map[string]string{"Accept": "*/*;version=2"}, 200, "v2_doc", "/v2", "/servers"},
		{"/", map[string]string{"Accept": "application/atom+xml;version=2"}, 200, "v2_doc", "/v2", "/"},
		{"/servers", map[string]string{"Accept": "application/atom+xml;version=2"}, 200, "versions", "", "/servers"},
		// a versioned path wins over media-type versions
		{"/v2/x", map[string]string{"Content-Type": "application/json;version=2.1"}, 200, "v2_api", "/v2", "/x"},
		// domain routes first
		{"/v2.1/servers", map[string]string{"Host": "compute.example.test"}, 200, "v21_domain", "/v2.1", "/servers"},
		{"/v2.1/servers", map[string]string{"Host": "compute.example.test:80"}, 200, "v21_domain", "/v2.1", "/servers"},
		// nova compares the domain with the host without its port, too
		{"/v2.1/servers", map[string]string{"Host": "compute.example.test:8774"}, 200, "v21_domain", "/v2.1", "/servers"},
		{"/v2.1/servers", map[string]string{"Host": "other.example.test"}, 200, "v21_api", "/v2.1", "/servers"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", tt.target, nil)
		for k, v := range tt.hdr {
			if k == "Host" {
				r.Host = v
			} else {
				r.Header.Set(k, v)
			}
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		var d echo.Doc
		_ = json.Unmarshal(w.Body.Bytes(), &d)
		if w.Code != tt.code || d.Name != tt.app || d.ScriptName != tt.script || d.PathInfo != tt.path {
			t.Errorf("%s %v: got %d %q script %q path %q; want %d %q %q %q", tt.target, tt.hdr,
				w.Code, d.Name, d.ScriptName, d.PathInfo, tt.code, tt.app, tt.script, tt.path)
		}
	}
}

func TestNovaURLMapNotFound(t *testing.T) {
	ini := strings.Replace(novaIni, "/: versions\n", "", 1)
	h, err := build(t, ini, "main", nil)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/v3/secret-route", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 404 || strings.Contains(w.Body.String(), "v2.1") || !strings.Contains(w.Body.String(), "could not be found") {
		t.Errorf("404: %d %q", w.Code, w.Body.String())
	}
	ini2 := strings.Replace(ini, "[composite:main]\n", "[composite:main]\nnot_found_app = versions\n", 1)
	h, err = build(t, ini2, "main", nil)
	if err != nil {
		t.Fatal(err)
	}
	code, d := get(t, h, "/v3/x", nil)
	if code != 200 || d.Name != "versions" {
		t.Errorf("not_found_app: %d %q", code, d.Name)
	}
}

func TestNovaURLMapBadKey(t *testing.T) {
	ini := strings.Replace(novaIni, "/: versions\n", "/: versions\nnot/a/path: versions\n", 1)
	_, err := build(t, ini, "main", nil)
	if err == nil || !strings.Contains(err.Error(), "URL fragments must start with /") {
		t.Fatalf("bad key: %v", err)
	}
	if !strings.Contains(err.Error(), ":5:") {
		t.Errorf("error not positioned at its key: %v", err)
	}
}

func TestBestAcceptParams(t *testing.T) {
	sup := []string{"application/json", "application/vnd.openstack.compute+json"}
	tests := []struct {
		accept  string
		version string
	}{
		{"application/json;version=2.1", "2.1"},
		{"application/json;q=bad;version=9, */*;version=2", "2"},
		{`application/json;version="2.1"`, "2.1"},
		{"application/*;version=3, */*;version=2", "3"},
		{"*/*;version=2, application/*;version=3", "3"},
		{"application/json;q=0.1;version=1, application/vnd.openstack.compute+json;q=0.9;version=2", "2"},
		{"text/plain;version=2", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := bestAcceptParams([]string{tt.accept}, sup)["version"]; got != tt.version {
			t.Errorf("%q: version %q, want %q", tt.accept, got, tt.version)
		}
	}
}

const troveIni = `
[composite:main]
use = call:trove.common.wsgi:versioned_urlmap
/: versions
/v1.0: v1

[app:versions]
use = egg:vietstack#echo
name = versions

[app:v1]
use = egg:vietstack#echo
name = v1
`

func TestTroveURLMap(t *testing.T) {
	h, err := build(t, troveIni, "main", nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		target, accept string
		code           int
		app            string
		script, path   string
	}{
		{"/", "", 200, "versions", "", "/"},
		{"/v1.0/instances", "", 200, "v1", "/v1.0", "/instances"},
		{"/v1.0x", "", 200, "versions", "", "/v1.0x"},
		// an unversioned path goes to the Accept version, unchanged
		{"/instances", "application/vnd.openstack.trove+json;version=1.0", 200, "v1", "", "/instances"},
		{"/instances", "application/vnd.openstack.trove;version=1.0", 200, "v1", "", "/instances"},
		{"/instances", "application/vnd.openstack.trove+json;version=2.0", 406, "", "", ""},
		// a versioned path ignores it
		{"/v1.0/instances", "application/vnd.openstack.trove+json;version=2.0", 200, "v1", "/v1.0", "/instances"},
		// other media types carry no trove version
		{"/instances", "application/json;version=1.0", 200, "versions", "", "/instances"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", tt.target, nil)
		if tt.accept != "" {
			r.Header.Set("Accept", tt.accept)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		var d echo.Doc
		_ = json.Unmarshal(w.Body.Bytes(), &d)
		if w.Code != tt.code || d.Name != tt.app || d.ScriptName != tt.script || d.PathInfo != tt.path {
			t.Errorf("%s %q: got %d %q %q %q; want %d %q %q %q", tt.target, tt.accept, w.Code, d.Name, d.ScriptName, d.PathInfo,
				tt.code, tt.app, tt.script, tt.path)
		}
		if tt.code == 406 && !strings.Contains(w.Body.String(), "version not supported") {
			t.Errorf("406 body %q", w.Body.String())
		}
	}
}
