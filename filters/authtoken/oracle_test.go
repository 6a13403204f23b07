package authtoken

// Request-by-request parity with the real keystonemiddleware auth_token
// (Debian's python3-keystonemiddleware, run by ksm_oracle.py in front of
// the same Keystone): the same requests must give the same status, the
// same 401/503 bodies and challenge, and the same identity headers.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"
)

// oracleAnswer is what ksm_oracle.py's echo app or its error pages tell.
type oracleAnswer struct {
	status  int
	header  http.Header
	body    string
	headers map[string]string // X-* and OpenStack-* the app saw (200 only)
}

func askOracle(t *testing.T, base, path string, hdr ...string) oracleAnswer {
	t.Helper()
	req, _ := http.NewRequest("GET", base+path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	a := oracleAnswer{status: resp.StatusCode, header: resp.Header, body: string(data)}
	if resp.StatusCode == 200 {
		var out struct {
			Headers map[string]*string `json:"headers"`
		}
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatalf("oracle answer: %v: %s", err, data)
		}
		// None in the WSGI environ (null here) is no header at all.
		a.headers = map[string]string{}
		for k, v := range out.Headers {
			if v != nil {
				a.headers[k] = *v
			}
		}
	}
	return a
}

// askGo sends the same request through our filter and describes the
// headers the app saw the way ksm_oracle.py does (token values replaced by
// their length).
func askGo(h http.Handler, app *recorder, path string, hdr ...string) oracleAnswer {
	r := httptest.NewRequest("GET", path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	a := oracleAnswer{status: w.Code, header: w.Header(), body: w.Body.String()}
	if s := app.take(); s != nil && w.Code == 200 {
		a.headers = map[string]string{}
		for k, v := range s.header {
			lk := strings.ToLower(k)
			if !strings.HasPrefix(lk, "x-") && !strings.HasPrefix(lk, "openstack-") || k == "X-Test-Status" {
				continue
			}
			val := strings.Join(v, ",")
			if strings.HasSuffix(k, "-Token") {
				val = fmt.Sprintf("<%d chars>", len(val))
			}
			a.headers[k] = val
		}
	}
	return a
}

// normalize sorts comma-joined role lists, whose order Keystone does not
// keep stable.
func normalize(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if k == "X-Roles" || k == "X-Role" || k == "X-Service-Roles" {
			parts := strings.Split(v, ",")
			sort.Strings(parts)
			v = strings.Join(parts, ",")
		}
		out[k] = v
	}
	return out
}

func diffHeaders(want, got map[string]string) []string {
	want, got = normalize(want), normalize(got)
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var out []string
	for _, k := range keys {
		w, wok := want[k]
		g, gok := got[k]
		switch {
		case !wok:
			out = append(out, fmt.Sprintf("%s: only ours sets it (%q)", k, g))
		case !gok:
			out = append(out, fmt.Sprintf("%s: only keystonemiddleware sets it (%q)", k, w))
		case w != g:
			out = append(out, fmt.Sprintf("%s: keystonemiddleware %q, ours %q", k, w, g))
		}
	}
	return out
}

func TestKeystoneMiddlewareParity(t *testing.T) {
	oracles := needOracle(t)
	ks := ksMain
	same := func(o *Options) { o.WWWAuthenticateURI = ks.url }
	_, def, dapp := newTestFilter(t, ks, same)
	_, delay, lapp := newTestFilter(t, ks, func(o *Options) { same(o); o.DelayAuthDecision = true })
	_, down, wapp := newTestFilter(t, ks, func(o *Options) {
		o.AuthURL, o.WWWAuthenticateURI = "http://127.0.0.1:1/v3", "http://127.0.0.1:1/v3"
	})

	user := ks.issue(t, "demo", ks.seed["DEMO_PASSWORD"], "demo")
	unscoped := ks.issue(t, "demo", ks.seed["DEMO_PASSWORD"], "")
	svc := ks.issue(t, ks.seed["SERVICE_USER"], ks.seed["SERVICE_PASSWORD"], ks.seed["SERVICE_PROJECT"])
	admin := ks.seed["ADMIN_TOKEN"]

	for _, tc := range []struct {
		name, oracle string
		h            http.Handler
		app          *recorder
		path         string
		hdr          []string
	}{
		{"project token", "default", def, dapp, "/x", []string{"X-Auth-Token", user}},
		{"admin project token", "default", def, dapp, "/x", []string{"X-Auth-Token", admin}},
		{"unscoped token", "default", def, dapp, "/x", []string{"X-Auth-Token", unscoped}},
		{"X-Storage-Token", "default", def, dapp, "/x", []string{"X-Storage-Token", user}},
		{"user and service token", "default", def, dapp, "/x", []string{"X-Auth-Token", user, "X-Service-Token", svc}},
		{"member-only service token", "default", def, dapp, "/x", []string{"X-Auth-Token", user, "X-Service-Token", unscoped}},
		{"no token", "default", def, dapp, "/x", nil},
		{"garbage token", "default", def, dapp, "/x", []string{"X-Auth-Token", "garbage"}},
		{"delay: no token", "delay", delay, lapp, "/x", nil},
		{"delay: garbage token", "delay", delay, lapp, "/x", []string{"X-Auth-Token", "garbage"}},
		{"delay: garbage service token", "delay", delay, lapp, "/x", []string{"X-Auth-Token", user, "X-Service-Token", "garbage"}},
		{"delay: project token", "delay", delay, lapp, "/x", []string{"X-Auth-Token", user}},
		{"Keystone unreachable", "down", down, wapp, "/x", []string{"X-Auth-Token", user}},
		{"Keystone unreachable, HTML", "down", down, wapp, "/x", []string{"X-Auth-Token", user, "Accept", "*/*"}},
		{"Keystone unreachable, JSON", "down", down, wapp, "/x", []string{"X-Auth-Token", user, "Accept", "application/json"}},
		{"Keystone unreachable, no token", "down", down, wapp, "/x", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := askOracle(t, oracles[tc.oracle], tc.path, tc.hdr...)
			got := askGo(tc.h, tc.app, tc.path, tc.hdr...)
			if want.status != got.status {
				t.Fatalf("status: keystonemiddleware %d, ours %d (%s)", want.status, got.status, got.body)
			}
			if want.status != 200 {
				if want.body != got.body {
					t.Errorf("body:\nkeystonemiddleware %q\nours               %q", want.body, got.body)
				}
				for _, k := range []string{"Content-Type", "Www-Authenticate"} {
					if want.header.Get(k) != got.header.Get(k) {
						t.Errorf("%s: keystonemiddleware %q, ours %q", k, want.header.Get(k), got.header.Get(k))
					}
				}
				return
			}
			for _, d := range diffHeaders(want.headers, got.headers) {
				t.Error(d)
			}
		})
	}
}
