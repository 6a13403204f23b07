package versions_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vietstack/vietstack-api/apps/versions"
	"github.com/vietstack/vietstack-api/pipeline"
	"github.com/vietstack/vietstack-api/pipeline/paste"
)

func build(t *testing.T, ini string) (http.Handler, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "v.ini")
	if err := os.WriteFile(path, []byte(ini), 0o644); err != nil {
		t.Fatal(err)
	}
	g, err := paste.Load(path, paste.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg := pipeline.NewRegistry()
	versions.Register(reg)
	gen, err := pipeline.Build(context.Background(), g, pipeline.BuildOptions{Registry: reg})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { gen.Close() })
	return gen.Handler, nil
}

const novaLike = `
[composite:main]
use = egg:Paste#urlmap
/ = versions
/compute = versions

[app:versions]
use = egg:vietstack#versions
versions =
    v2.0 SUPPORTED updated=2011-01-21T11:33:21Z
    v2.1 CURRENT updated=2013-07-23T11:33:21Z min_version=2.1 version=2.96 media_type=application/vnd.openstack.compute+json;version=2.1
describedby = https://docs.openstack.org/api-ref/compute/
`

func TestDocuments(t *testing.T) {
	h, err := build(t, novaLike)
	if err != nil {
		t.Fatal(err)
	}
	v20 := map[string]any{
		"id": "v2.0", "status": "SUPPORTED", "version": "", "min_version": "", "updated": "2011-01-21T11:33:21Z",
		"links": []any{
			map[string]any{"rel": "self", "href": "http://api.example:8774/v2.0/"},
			map[string]any{"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/api-ref/compute/"},
		},
		"media-types": []any{map[string]any{"base": "application/json", "type": "application/vnd.openstack+json;version=2"}},
	}
	v21 := map[string]any{
		"id": "v2.1", "status": "CURRENT", "version": "2.96", "min_version": "2.1", "updated": "2013-07-23T11:33:21Z",
		"links": []any{
			map[string]any{"rel": "self", "href": "http://api.example:8774/v2.1/"},
			map[string]any{"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/api-ref/compute/"},
		},
		"media-types": []any{map[string]any{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}},
	}
	tests := []struct {
		method, target string
		status         int
		want           any
	}{
		{"GET", "/", 300, map[string]any{"versions": []any{v20, v21}}},
		{"GET", "/v2.1", 200, map[string]any{"version": v21}},
		{"GET", "/v2.1/", 200, map[string]any{"version": v21}},
		{"GET", "/v2.0/", 200, map[string]any{"version": v20}},
		{"GET", "/v3/", 404, nil},
		{"GET", "/v2.1/servers", 404, nil},
		{"POST", "/", 405, nil},
		{"HEAD", "/", 300, nil},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "http://api.example:8774"+tt.target, nil)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if tt.method == "HEAD" && w.Body.Len() != 0 {
				t.Errorf("HEAD body %q", w.Body)
			}
			if tt.want == nil {
				return
			}
			var got any
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("document (-want +got):\n%s", diff)
			}
		})
	}
	// Under a script name, links carry it.
	r := httptest.NewRequest("GET", "https://api.example/compute/", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if !strings.Contains(w.Body.String(), `"href":"https://api.example/compute/v2.1/"`) {
		t.Errorf("link under /compute: %s", w.Body)
	}
}

func TestSingleVersionAndBaseURL(t *testing.T) {
	h, err := build(t, `
[app:main]
use = egg:vietstack#versions
versions = v3 STABLE updated=2024-01-01T00:00:00Z href=/v3/
base_url = https://identity.example.com/
`)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "http://internal:5000/", nil)
	r.Header.Set("Host", "evil.example")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 200 {
		t.Fatalf("status %d, want 200 for a single version", w.Code)
	}
	want := `{"versions":[{"id":"v3","status":"STABLE","version":"","min_version":"","updated":"2024-01-01T00:00:00Z","links":[{"rel":"self","href":"https://identity.example.com/v3/"}],"media-types":[{"base":"application/json","type":"application/vnd.openstack+json;version=3"}]}]}` + "\n"
	if w.Body.String() != want {
		t.Errorf("body\n%s\nwant\n%s", w.Body, want)
	}
}

func TestOptionErrors(t *testing.T) {
	for _, tt := range []struct{ versions, want string }{
		{"", "versions is required"},
		{"2.1 CURRENT", "want v<major>"},
		{"v2 CURRENTLY", "status"},
		{"v2", "ID STATUS"},
		{"v2 CURRENT\n v2 SUPPORTED", "given twice"},
		{"v2 CURRENT updated=yesterday", "RFC 3339"},
		{"v2 CURRENT version=2.1", "both min_version and version"},
		{"v2 CURRENT min_version=x version=2.1", "<major>.<minor>"},
		{"v2 CURRENT href=http://evil/", "absolute path"},
		{"v2 CURRENT colour=blue", "unknown key"},
	} {
		ini := "[app:main]\nuse = egg:vietstack#versions\n"
		if tt.versions != "" {
			ini += "versions = " + tt.versions + "\n"
		}
		_, err := build(t, ini)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "v.ini:") {
			t.Errorf("%q: error %v, want a positioned %q", tt.versions, err, tt.want)
		}
	}
}

func BenchmarkVersions(b *testing.B) {
	var l versions.VersionList
	l.UnmarshalText([]byte("v2.0 SUPPORTED\nv2.1 CURRENT min_version=2.1 version=2.96"))
	h, err := versions.New(versions.Options{Versions: l, MediaBase: "application/vnd.openstack"})
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
	}
}

// FuzzVersionList: the versions option never panics, and what it accepts
// renders as valid JSON.
func FuzzVersionList(f *testing.F) {
	f.Add("v2.1 CURRENT min_version=2.1 version=2.96\nv2.0 SUPPORTED")
	f.Add("v3 STABLE href=/v3/ media_type=application/json,v2 DEPRECATED updated=2011-01-01T00:00:00Z")
	f.Fuzz(func(t *testing.T, s string) {
		var l versions.VersionList
		if err := l.UnmarshalText([]byte(s)); err != nil || len(l) == 0 {
			return
		}
		h, err := versions.New(versions.Options{Versions: l, MediaBase: "application/vnd.openstack"})
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		if !json.Valid(w.Body.Bytes()) {
			t.Fatalf("invalid JSON for %q: %s", s, w.Body)
		}
	})
}
