package authtoken_test

// End to end: etc/keystone-api-paste.ini, loaded and built as the daemon
// does, in front of the echo app, against the real Keystone.

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vietstack/vietstack-api/apps"
	"github.com/vietstack/vietstack-api/filters"
	"github.com/vietstack/vietstack-api/filters/authtoken"
	"github.com/vietstack/vietstack-api/pipeline"
	"github.com/vietstack/vietstack-api/pipeline/paste"
)

// exampleURL is the Keystone address written in etc/keystone-api-paste.ini.
const exampleURL = "http://127.0.0.1:5000/v3"

func TestKeystonePasteFile(t *testing.T) {
	ksURL, seed := authtoken.KeystoneForTest(t)
	src, err := os.ReadFile("../../etc/keystone-api-paste.ini")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), "auth_url = "+exampleURL) {
		t.Fatalf("etc/keystone-api-paste.ini no longer names %s", exampleURL)
	}
	ini := filepath.Join(t.TempDir(), "keystone-api-paste.ini")
	if err := os.WriteFile(ini, []byte(strings.ReplaceAll(string(src), exampleURL, ksURL)), 0o644); err != nil {
		t.Fatal(err)
	}
	g, err := paste.Load(ini, paste.Options{Name: "main", Kind: paste.KindApp})
	if err != nil {
		t.Fatal(err)
	}
	reg := pipeline.NewRegistry()
	apps.Register(reg)
	filters.Register(reg)
	gen, err := pipeline.Build(context.Background(), g, pipeline.BuildOptions{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer gen.Close()
	srv := httptest.NewServer(gen.Handler)
	defer srv.Close()

	get := func(path string, hdr ...string) (*http.Response, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Add(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		return resp, body
	}

	// The version document needs no token.
	if resp, _ := get("/"); resp.StatusCode != 200 {
		t.Errorf("GET /: %d", resp.StatusCode)
	}
	// The API does, and says where to get one.
	resp, body := get("/v1/servers", "X-Roles", "admin", "X-User-Id", "evil")
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `Keystone uri="`+ksURL+`"` ||
		!strings.HasPrefix(resp.Header.Get("X-Openstack-Request-Id"), "req-") || body["error"] == nil {
		t.Errorf("no token: %d %q %q %v", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), resp.Header.Get("X-Openstack-Request-Id"), body)
	}
	tok := authtoken.IssueToken(t, "demo", seed["DEMO_PASSWORD"], "demo")
	resp, body = get("/v1/servers", "X-Auth-Token", tok, "X-Roles", "admin", "X_Roles", "admin", "X-Is-Admin-Project", "True")
	if resp.StatusCode != 200 {
		t.Fatalf("valid token: %d %v", resp.StatusCode, body)
	}
	h, _ := body["headers"].(map[string]any)
	str := func(k string) string { s, _ := h[k].(string); return s }
	roles := strings.Split(str("x-roles"), ",")
	slices.Sort(roles)
	if !slices.Equal(roles, []string{"member", "reader"}) {
		t.Errorf("x-roles %q: want member,reader and never the client's admin", str("x-roles"))
	}
	if str("x-identity-status") != "Confirmed" || str("x-user-id") != seed["DEMO_USER_ID"] ||
		str("x-project-id") != seed["DEMO_PROJECT_ID"] || str("x-is-admin-project") != "True" {
		t.Errorf("identity headers %v", h)
	}
	if body["script_name"] != "/v1" || body["path_info"] != "/servers" {
		t.Errorf("routing: script_name %v path_info %v", body["script_name"], body["path_info"])
	}
	if rid, _ := body["request_id"].(string); !strings.HasPrefix(rid, "req-") {
		t.Errorf("request_id %v", body["request_id"])
	}
}
