package robustness

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// echoDoc is the part of the echo app's answer these tests read.
type echoDoc struct {
	ScriptName string            `json:"script_name"`
	PathInfo   string            `json:"path_info"`
	URLScheme  string            `json:"url_scheme"`
	Host       *string           `json:"host"`
	RemoteAddr string            `json:"remote_addr"`
	AppURL     string            `json:"application_url"`
	Headers    map[string]string `json:"headers"`
}

func getEcho(t *testing.T, c *http.Client, url string, h http.Header) (int, echoDoc) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var d echoDoc
	if resp.StatusCode == 200 {
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("echo answer: %v: %.300q", err, b)
		}
	}
	return resp.StatusCode, d
}

// spoofed are forwarded and identity headers a client sends to claim
// another address, scheme, host, prefix or identity, in their canonical
// and underscore spellings (reliability.md H1, A1).
var spoofed = http.Header{
	"X-Forwarded-For":           {"6.6.6.6"},
	"X-Forwarded-Proto":         {"https"},
	"X-Forwarded-Host":          {"evil.example"},
	"X-Forwarded-Prefix":        {"/evil"},
	"X-Forwarded-Port":          {"444"},
	"Forwarded":                 {`for=8.8.8.8;proto=https;host=evil.example`},
	"X-Real-Ip":                 {"6.6.6.7"},
	"X-Identity-Status":         {"Confirmed"},
	"X-Roles":                   {"admin"},
	"X-Role":                    {"admin"},
	"X-User-Id":                 {"root"},
	"X-User-Name":               {"root"},
	"X-User":                    {"root"},
	"X-User-Domain-Id":          {"evil"},
	"X-Project-Id":              {"p0wn"},
	"X-Project-Name":            {"p0wn"},
	"X-Project-Domain-Id":       {"evil"},
	"X-Domain-Id":               {"evil"},
	"X-Tenant-Id":               {"p0wn"},
	"X-Tenant":                  {"p0wn"},
	"X-Is-Admin-Project":        {"True"},
	"X-Service-Identity-Status": {"Confirmed"},
	"X-Service-Roles":           {"service"},
	"X-Service-User-Id":         {"nova"},
	"X-Service-Catalog":         {"[]"},
	"X-Remote-User":             {"root"},
	"Openstack-System-Scope":    {"all"},
	"X_Roles":                   {"admin"},
	"X_User_Id":                 {"root"},
	"X_Is_Admin_Project":        {"True"},
	"X_Identity_Status":         {"Confirmed"},
}

// TestSpoofedHeaders is H1 and A1: with proxy-header parsing off (the
// default), no forwarded header changes the client address, scheme, host
// or script prefix the app sees, and no client identity header reaches
// the app: every identity header the app sees is noauth's.
func TestSpoofedHeaders(t *testing.T) {
	d := startDaemon(t, suiteIni, suiteFiles)
	c := newClient()
	h := spoofed.Clone()
	h.Set("X-Auth-Token", "alice:demo")
	status, doc := getEcho(t, c, d.url("/auth/servers"), h)
	if status != 200 {
		t.Fatalf("status %d", status)
	}
	if doc.RemoteAddr != "127.0.0.1" || doc.URLScheme != "http" || doc.Host == nil || *doc.Host != d.addr ||
		doc.ScriptName != "/auth" || doc.AppURL != "http://"+d.addr+"/auth" {
		t.Errorf("the client's headers changed what the app sees: remote %q scheme %q host %v script %q url %q",
			doc.RemoteAddr, doc.URLScheme, *doc.Host, doc.ScriptName, doc.AppURL)
	}
	want := map[string]string{
		"x-identity-status": "Confirmed", "x-user-id": "alice", "x-user-name": "alice", "x-user": "alice",
		"x-project-id": "demo", "x-project-name": "demo", "x-tenant-id": "demo", "x-tenant-name": "demo",
		"x-tenant": "demo", "x-roles": "", "x-role": "", "x-is-admin-project": "False",
	}
	for name, v := range doc.Headers {
		if w, ok := want[name]; ok {
			if v != w {
				t.Errorf("app saw %s: %q, want noauth's %q", name, v, w)
			}
			continue
		}
		if isIdentity(name) {
			t.Errorf("client identity header %s: %q reached the app", name, v)
		}
	}
	for name := range want {
		if _, ok := doc.Headers[name]; !ok && want[name] != "" {
			t.Errorf("noauth's %s missing", name)
		}
	}
	// Without a token the app is never reached, whatever else is claimed.
	if status, _ := getEcho(t, c, d.url("/auth/servers"), spoofed); status != 401 {
		t.Errorf("spoofed identity without a token: %d, want 401", status)
	}
}

func isIdentity(name string) bool {
	for _, p := range []string{"x-identity-", "x-role", "x-user", "x-project", "x-domain", "x-tenant", "x-is-admin", "x-service-", "x-remote-", "openstack-system-scope"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// knownGaps are findings of this suite that need a change in code its
// owner is changing; a gap's test reports it (loudly, as a skip) while
// the gap exists and fails once it is fixed, so the list stays true.
var knownGaps = map[string]string{}

// TestUnderscoreHeaders is F2: header names holding "_" are dropped
// before the pipeline, so X_Forwarded_For can never alias
// X-Forwarded-For in an app or backend that folds "_" into "-".
func TestUnderscoreHeaders(t *testing.T) {
	d := startDaemon(t, suiteIni, suiteFiles)
	c := newClient()
	status, doc := getEcho(t, c, d.url("/echo/x"), http.Header{
		"X_Forwarded_For": {"7.7.7.7"}, "X_Custom_Thing": {"1"}, "X-Plain": {"kept"},
	})
	if status != 200 || doc.Headers["x-plain"] != "kept" {
		t.Fatalf("status %d, headers %v", status, doc.Headers)
	}
	var leaked []string
	for _, name := range []string{"x-forwarded-for", "x-custom-thing"} {
		if v, ok := doc.Headers[name]; ok {
			leaked = append(leaked, name+"="+v)
		}
	}
	gap, known := knownGaps["F2"]
	switch {
	case len(leaked) > 0 && known:
		t.Skipf("KNOWN GAP F2 (reliability.md §5): %s; the app saw %v", gap, leaked)
	case len(leaked) > 0:
		t.Errorf("underscore headers reached the app: %v", leaked)
	case known:
		t.Errorf("gap F2 is fixed: remove it from knownGaps")
	}
}
