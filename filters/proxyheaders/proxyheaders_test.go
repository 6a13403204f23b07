package proxyheaders

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vietstack/vietstack-api/pipeline"
)

// view is what the application sees after the filter.
type view struct {
	scheme, host, remote, script string
}

func capture(v *view) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := pipeline.RequestFrom(r)
		*v = view{st.Scheme, r.Host, st.RemoteAddr, st.ScriptName}
	})
}

// serve sends a request from peer with headers through mw and returns what
// the application saw.
func serve(t *testing.T, mw pipeline.Middleware, peer string, headers [][2]string) view {
	t.Helper()
	var v view
	r := httptest.NewRequest("GET", "http://api.example.test/servers", nil)
	r.RemoteAddr = peer
	for _, kv := range headers {
		r.Header.Add(kv[0], kv[1])
	}
	pipeline.Root(mw(capture(&v))).ServeHTTP(httptest.NewRecorder(), r)
	return v
}

const peer = "127.0.0.1:40000"

// unchanged is what the application sees when nothing is believed.
var unchanged = view{"http", "api.example.test", peer, ""}

type hcase struct {
	name    string
	headers [][2]string
	want    view
}

// corpus mirrors the "proxy" group of shared/tools/oslo-diff/cases.json.
// Where oslo copies a value verbatim and this filter validates it, the
// comment says what oslo answers (those cases are listed as known
// divergences of the differential run).
var corpus = []hcase{
	{"plain", nil, unchanged},
	{"xfh", [][2]string{{"X-Forwarded-Host", "public.example.test:8443"}}, view{"http", "public.example.test:8443", peer, ""}},
	{"xff-single", [][2]string{{"X-Forwarded-For", "203.0.113.7"}}, view{"http", "api.example.test", "203.0.113.7", ""}},
	// oslo: remote_addr "203.0.113.7, 198.51.100.2" (the whole header).
	{"xff-chain", [][2]string{{"X-Forwarded-For", "203.0.113.7, 198.51.100.2"}}, view{"http", "api.example.test", "203.0.113.7", ""}},
	{"xf-all", [][2]string{{"X-Forwarded-Proto", "https"}, {"X-Forwarded-Host", "public.example.test"}, {"X-Forwarded-For", "203.0.113.7"}, {"X-Forwarded-Prefix", "/compute"}},
		view{"https", "public.example.test", "203.0.113.7", "/compute"}},
	{"forwarded-full", [][2]string{{"Forwarded", "for=192.0.2.60;proto=https;host=public.example.test"}}, view{"https", "public.example.test", "192.0.2.60", ""}},
	{"forwarded-multi", [][2]string{{"Forwarded", "for=192.0.2.60;proto=https, for=198.51.100.17;proto=http;host=inner.example.test"}}, view{"https", "api.example.test", "192.0.2.60", ""}},
	// oslo: remote_addr "\"[2001:db8:cafe::17]:4711\"" (quotes kept).
	{"forwarded-quoted", [][2]string{{"Forwarded", `for="[2001:db8:cafe::17]:4711";proto=https`}}, view{"https", "api.example.test", "2001:db8:cafe::17", ""}},
	// oslo: url_scheme "HTTPS" (verbatim).
	{"forwarded-case", [][2]string{{"Forwarded", "For=192.0.2.43;Proto=HTTPS;Host=Public.Example.Test"}}, view{"https", "Public.Example.Test", "192.0.2.43", ""}},
	{"forwarded-wins", [][2]string{{"Forwarded", "proto=https"}, {"X-Forwarded-Proto", "http"}, {"X-Forwarded-For", "203.0.113.7"}, {"X-Forwarded-Host", "xfh.example.test"}}, view{"https", "api.example.test", peer, ""}},
	{"forwarded-empty", [][2]string{{"Forwarded", "proto=;host=;for="}}, unchanged},
	{"forwarded-by-only", [][2]string{{"Forwarded", "by=203.0.113.43"}, {"X-Forwarded-Proto", "https"}}, unchanged},
	{"forwarded-prefix", [][2]string{{"Forwarded", "proto=https;host=public.example.test"}, {"X-Forwarded-Prefix", "/compute"}}, view{"https", "public.example.test", peer, "/compute"}},
	{"xfh-default-port", [][2]string{{"X-Forwarded-Proto", "https"}, {"X-Forwarded-Host", "public.example.test:443"}}, view{"https", "public.example.test:443", peer, ""}},
	// oslo: remote_addr "not-an-ip".
	{"xff-garbage", [][2]string{{"X-Forwarded-For", "not-an-ip"}}, unchanged},
}

// garbage are values oslo would copy verbatim and this filter ignores.
var garbage = []hcase{
	{"proto javascript", [][2]string{{"X-Forwarded-Proto", "javascript"}}, unchanged},
	{"proto empty", [][2]string{{"X-Forwarded-Proto", ""}}, unchanged},
	{"proto list takes the first", [][2]string{{"X-Forwarded-Proto", "https, http"}}, view{"https", "api.example.test", peer, ""}},
	{"forwarded proto ftp", [][2]string{{"Forwarded", "proto=ftp;for=192.0.2.9"}}, view{"http", "api.example.test", "192.0.2.9", ""}},
	{"host with path", [][2]string{{"X-Forwarded-Host", "evil.test/x"}}, unchanged},
	{"host with space", [][2]string{{"X-Forwarded-Host", "a b"}}, unchanged},
	{"host with userinfo", [][2]string{{"X-Forwarded-Host", "user@evil.test"}}, unchanged},
	{"host port 0", [][2]string{{"X-Forwarded-Host", "h.test:0"}}, unchanged},
	{"host port too big", [][2]string{{"X-Forwarded-Host", "h.test:99999"}}, unchanged},
	{"host empty port", [][2]string{{"X-Forwarded-Host", "h.test:"}}, unchanged},
	{"host unclosed bracket", [][2]string{{"X-Forwarded-Host", "[::1"}}, unchanged},
	{"host ipv6", [][2]string{{"X-Forwarded-Host", "[2001:db8::1]:8443"}}, view{"http", "[2001:db8::1]:8443", peer, ""}},
	{"host CRLF", [][2]string{{"X-Forwarded-Host", "a.test\r\nX: y"}}, unchanged},
	{"host dotdot", [][2]string{{"X-Forwarded-Host", "a..test"}}, unchanged},
	{"forwarded host quoted", [][2]string{{"Forwarded", `host="pub.test:8080"`}}, view{"http", "pub.test:8080", peer, ""}},
	{"for unknown", [][2]string{{"Forwarded", "for=unknown;proto=https"}}, view{"https", "api.example.test", peer, ""}},
	{"for obfuscated", [][2]string{{"Forwarded", "for=_hidden"}}, unchanged},
	{"for zone", [][2]string{{"Forwarded", `for="[fe80::1%eth0]"`}}, unchanged},
	{"for bad port", [][2]string{{"Forwarded", "for=192.0.2.1:_x"}}, unchanged},
	{"for v4 with port", [][2]string{{"Forwarded", "for=192.0.2.1:8080"}}, view{"http", "api.example.test", "192.0.2.1", ""}},
	{"for v4-mapped", [][2]string{{"X-Forwarded-For", "::ffff:192.0.2.7"}}, view{"http", "api.example.test", "192.0.2.7", ""}},
	{"unbalanced quote", [][2]string{{"Forwarded", `for="192.0.2.1;proto=https`}}, unchanged},
	{"quote with comma inside", [][2]string{{"Forwarded", `for="1.2.3.4, 5.6.7.8";proto=https`}}, view{"https", "api.example.test", peer, ""}},
	{"escaped quote", [][2]string{{"Forwarded", `host="a\"b"`}}, unchanged},
	{"no pairs then element", [][2]string{{"Forwarded", ", junk, for=192.0.2.5"}}, view{"http", "api.example.test", "192.0.2.5", ""}},
	{"two Forwarded lines", [][2]string{{"Forwarded", "for=192.0.2.5"}, {"Forwarded", "for=192.0.2.6"}}, view{"http", "api.example.test", "192.0.2.5", ""}},
	{"xff empty", [][2]string{{"X-Forwarded-For", ""}}, unchanged},
	{"xff 10 KiB", [][2]string{{"X-Forwarded-For", strings.Repeat("9", 10240)}}, unchanged},
	{"xff too many hops", [][2]string{{"X-Forwarded-For", strings.Repeat("192.0.2.1, ", 40) + "192.0.2.2"}}, unchanged},
	{"forwarded too many elements", [][2]string{{"Forwarded", strings.Repeat("for=192.0.2.1, ", 40) + "for=192.0.2.2"}}, unchanged},
	{"prefix relative", [][2]string{{"X-Forwarded-Prefix", "compute"}}, unchanged},
	{"prefix dotdot", [][2]string{{"X-Forwarded-Prefix", "/a/../b"}}, unchanged},
	{"prefix double slash", [][2]string{{"X-Forwarded-Prefix", "//evil.test"}}, unchanged},
	{"prefix percent", [][2]string{{"X-Forwarded-Prefix", "/a%2fb"}}, unchanged},
	{"prefix query", [][2]string{{"X-Forwarded-Prefix", "/a?b"}}, unchanged},
	{"prefix root", [][2]string{{"X-Forwarded-Prefix", "/"}}, unchanged},
	{"prefix trailing slash", [][2]string{{"X-Forwarded-Prefix", "/compute/"}}, view{"http", "api.example.test", peer, "/compute"}},
	{"prefix twice", [][2]string{{"X-Forwarded-Prefix", "/a"}, {"X-Forwarded-Prefix", "/b"}}, unchanged},
	{"underscore spellings are not headers", [][2]string{{"X_Forwarded_For", "6.6.6.6"}, {"X_Forwarded_Proto", "https"}}, unchanged},
}

func TestParsingOn(t *testing.T) {
	mw := Middleware(nil)
	for _, group := range [][]hcase{corpus, garbage} {
		for _, tt := range group {
			t.Run(tt.name, func(t *testing.T) {
				if got := serve(t, mw, peer, tt.headers); got != tt.want {
					t.Errorf("app saw %+v, want %+v", got, tt.want)
				}
			})
		}
	}
}

func TestParsingOff(t *testing.T) {
	mw, err := New(context.Background(), &pipeline.Config{Name: "filter:http_proxy_to_wsgi"})
	if err != nil {
		t.Fatal(err)
	}
	for _, group := range [][]hcase{corpus, garbage} {
		for _, tt := range group {
			if got := serve(t, mw, peer, tt.headers); got != unchanged {
				t.Errorf("%s: app saw %+v with parsing off", tt.name, got)
			}
		}
	}
}

func TestTrustedProxies(t *testing.T) {
	trusted, err := ParseTrusted([]string{"10.0.0.0/8", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	mw := Middleware(trusted)
	tests := []struct {
		name    string
		peer    string
		headers [][2]string
		want    view
	}{
		{"untrusted peer: nothing believed", "192.0.2.1:5000",
			[][2]string{{"X-Forwarded-For", "203.0.113.7"}, {"X-Forwarded-Proto", "https"}, {"X-Forwarded-Host", "pub.test"}, {"X-Forwarded-Prefix", "/c"}},
			view{"http", "api.example.test", "192.0.2.1:5000", ""}},
		{"untrusted peer: Forwarded ignored", "192.0.2.1:5000",
			[][2]string{{"Forwarded", "for=203.0.113.7;proto=https;host=pub.test"}},
			view{"http", "api.example.test", "192.0.2.1:5000", ""}},
		{"trusted peer", "10.1.2.3:5000",
			[][2]string{{"X-Forwarded-For", "203.0.113.7"}, {"X-Forwarded-Proto", "https"}, {"X-Forwarded-Host", "pub.test"}, {"X-Forwarded-Prefix", "/c"}},
			view{"https", "pub.test", "203.0.113.7", "/c"}},
		{"spoofed left-most entry skipped", "10.1.2.3:5000",
			[][2]string{{"X-Forwarded-For", "6.6.6.6, 203.0.113.7, 10.0.0.5"}},
			view{"http", "api.example.test", "203.0.113.7", ""}},
		{"client right after the trusted hop", "10.1.2.3:5000",
			[][2]string{{"X-Forwarded-For", "6.6.6.6, 10.0.0.5"}},
			view{"http", "api.example.test", "6.6.6.6", ""}},
		{"all hops trusted: left-most", "10.1.2.3:5000",
			[][2]string{{"X-Forwarded-For", "10.0.0.7, 10.0.0.5"}},
			view{"http", "api.example.test", "10.0.0.7", ""}},
		{"garbage where the client should be", "10.1.2.3:5000",
			[][2]string{{"X-Forwarded-For", "6.6.6.6, garbage, 10.0.0.5"}},
			view{"http", "api.example.test", "10.1.2.3:5000", ""}},
		{"Forwarded: element of the outermost trusted hop", "10.1.2.3:5000",
			[][2]string{{"Forwarded", "for=6.6.6.6;proto=http;host=spoof.test, for=203.0.113.9;proto=https;host=pub.test, for=10.0.0.2;proto=http;host=inner.test"}},
			view{"https", "pub.test", "203.0.113.9", ""}},
		{"IPv6 trusted peer", "[::1]:5000",
			[][2]string{{"X-Forwarded-For", "2001:db8::7"}},
			view{"http", "api.example.test", "2001:db8::7", ""}},
		{"unparsable peer", "garbage",
			[][2]string{{"X-Forwarded-For", "203.0.113.7"}},
			view{"http", "api.example.test", "garbage", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := serve(t, mw, tt.peer, tt.headers); got != tt.want {
				t.Errorf("app saw %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestPrefixComposesWithScriptName(t *testing.T) {
	var v view
	inner := Middleware(nil)(capture(&v))
	// A urlmap in front has already consumed "/v2".
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pipeline.RequestFrom(r).ScriptName = "/v2"
		inner.ServeHTTP(w, r)
	})
	r := httptest.NewRequest("GET", "/v2/servers", nil)
	r.Header.Set("X-Forwarded-Prefix", "/compute")
	pipeline.Root(h).ServeHTTP(httptest.NewRecorder(), r)
	if v.script != "/compute/v2" {
		t.Errorf("ScriptName = %q, want /compute/v2", v.script)
	}
}

func TestRequestNotMutated(t *testing.T) {
	var seen *http.Request
	var outer *http.Request
	h := Middleware(nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = r }))
	root := pipeline.Root(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		outer = r
		h.ServeHTTP(w, r)
	}))
	r := httptest.NewRequest("GET", "http://api.example.test/", nil)
	r.Header.Set("X-Forwarded-Host", "pub.test")
	root.ServeHTTP(httptest.NewRecorder(), r)
	if seen.Host != "pub.test" || outer.Host != "api.example.test" {
		t.Errorf("inner host %q, outer host %q", seen.Host, outer.Host)
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFactory(t *testing.T) {
	dir := t.TempDir()
	on := writeFile(t, dir, "proxy.conf", "# oslo\n[oslo_middleware]\nenable_proxy_headers_parsing = True\n")
	onTrusted := writeFile(t, dir, "trusted.conf", "[oslo_middleware]\nenable_proxy_headers_parsing = True\ntrusted_proxies = 10.0.0.0/8\n")
	bad := writeFile(t, dir, "bad.conf", "[oslo_middleware]\nenable_proxy_headers_parsing = maybe\n")
	xfp := [][2]string{{"X-Forwarded-Proto", "https"}}
	tests := []struct {
		name   string
		local  map[string]string
		global map[string]string
		parsed bool
		err    string
	}{
		{"default off", nil, nil, false, ""},
		{"on", map[string]string{"enable_proxy_headers_parsing": "true"}, nil, true, ""},
		{"on, oslo spelling", map[string]string{"enable_proxy_headers_parsing": "Yes"}, nil, true, ""},
		{"explicit off", map[string]string{"enable_proxy_headers_parsing": "0"}, nil, false, ""},
		{"from the global conf", nil, map[string]string{"enable_proxy_headers_parsing": "on"}, true, ""},
		{"from an oslo file", map[string]string{"oslo_config_project": "p", "oslo_config_file": on}, nil, true, ""},
		{"oslo file with trusted proxies (peer untrusted)", map[string]string{"oslo_config_project": "p", "oslo_config_file": onTrusted}, nil, false, ""},
		{"paste key beats the oslo file", map[string]string{"oslo_config_project": "p", "oslo_config_file": on, "enable_proxy_headers_parsing": "false"}, nil, false, ""},
		{"trusted peer range", map[string]string{"enable_proxy_headers_parsing": "true", "trusted_proxies": "127.0.0.0/8, ::1"}, nil, true, ""},
		{"untrusted peer range", map[string]string{"enable_proxy_headers_parsing": "true", "trusted_proxies": "10.0.0.0/8"}, nil, false, ""},
		{"bad bool", map[string]string{"enable_proxy_headers_parsing": "maybe"}, nil, false, `enable_proxy_headers_parsing: invalid boolean "maybe"`},
		{"bad oslo bool", map[string]string{"oslo_config_project": "p", "oslo_config_file": bad}, nil, false, "bad.conf [oslo_middleware] enable_proxy_headers_parsing"},
		{"bad trusted entry", map[string]string{"enable_proxy_headers_parsing": "true", "trusted_proxies": "10.0.0.0/33"}, nil, false, `trusted_proxies: invalid entry "10.0.0.0/33"`},
		{"trusted hostname", map[string]string{"trusted_proxies": "proxy.local"}, nil, false, `trusted_proxies: invalid entry "proxy.local"`},
		{"unknown key", map[string]string{"enable_proxy_header_parsing": "true"}, nil, false, `did you mean "enable_proxy_headers_parsing"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mw, err := New(context.Background(), &pipeline.Config{Name: "filter:http_proxy_to_wsgi", Local: tt.local, Global: tt.global})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "[filter:http_proxy_to_wsgi]") {
					t.Fatalf("error = %v, want one naming the section and containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := serve(t, mw, peer, xfp)
			if parsed := got.scheme == "https"; parsed != tt.parsed {
				t.Errorf("parsed = %v, want %v", parsed, tt.parsed)
			}
		})
	}
}

func TestRegisterAliases(t *testing.T) {
	reg := pipeline.NewRegistry()
	Register(reg)
	for _, s := range []string{
		"egg:vietstack#http_proxy_to_wsgi",
		"egg:oslo.middleware#http_proxy_to_wsgi",
		"oslo_middleware:HTTPProxyToWSGI.factory",
		"oslo_middleware.http_proxy_to_wsgi:HTTPProxyToWSGI.factory",
	} {
		if f, ok := reg.Lookup(s, pipeline.KindFilter); !ok || f.Name != "http_proxy_to_wsgi" {
			t.Errorf("Lookup(%q) = %v, %v", s, f, ok)
		}
	}
}

func TestParseNodeAndHost(t *testing.T) {
	for s, want := range map[string]string{
		"192.0.2.1": "192.0.2.1", "192.0.2.1:80": "192.0.2.1", "[2001:db8::1]:443": "2001:db8::1",
		"[2001:db8::1]": "2001:db8::1", "2001:DB8::1": "2001:db8::1", " 192.0.2.1 ": "192.0.2.1",
		"[192.0.2.1]": "", "192.0.2.1:": "", "192.0.2.1:99999": "", "01.2.3.4": "", "[::1]x": "", "": "", "unknown": "",
	} {
		a, ok := parseNode(s)
		got := ""
		if ok {
			got = a.String()
		}
		if got != want {
			t.Errorf("parseNode(%q) = %q, want %q", s, got, want)
		}
	}
}

// FuzzParse checks that no header value makes the filter panic and that
// whatever it believes is well-formed.
func FuzzParse(f *testing.F) {
	for _, tt := range append(append([]hcase{}, corpus...), garbage...) {
		for _, kv := range tt.headers {
			f.Add(kv[0], kv[1])
		}
	}
	trusted, _ := ParseTrusted([]string{"127.0.0.0/8"})
	ps := []*parser{{}, {trusted: trusted}}
	f.Fuzz(func(t *testing.T, name, value string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = peer
		r.Header[http.CanonicalHeaderKey(name)] = []string{value}
		r.Header["Forwarded"] = append(r.Header["Forwarded"], value)
		for _, p := range ps {
			res := p.parse(r)
			if res.Scheme != "" && res.Scheme != "http" && res.Scheme != "https" {
				t.Fatalf("scheme %q", res.Scheme)
			}
			if res.Host != "" && !validHost(res.Host) {
				t.Fatalf("host %q", res.Host)
			}
			if res.Client.IsValid() {
				if _, err := netip.ParseAddr(res.Client.String()); err != nil {
					t.Fatalf("client %v", res.Client)
				}
			}
			if res.Prefix != "" && (res.Prefix[0] != '/' || strings.HasSuffix(res.Prefix, "/") ||
				strings.Contains(res.Prefix+"/", "/../") || strings.Contains(res.Prefix+"/", "/./") || strings.Contains(res.Prefix, "//")) {
				t.Fatalf("prefix %q", res.Prefix)
			}
		}
	})
}

var okApp = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})

// stateRequest returns a request that carries pipeline state.
func stateRequest(headers ...[2]string) *http.Request {
	var out *http.Request
	r := httptest.NewRequest("GET", "http://api.example.test/", nil)
	for _, kv := range headers {
		r.Header.Set(kv[0], kv[1])
	}
	pipeline.Root(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { out = r })).
		ServeHTTP(httptest.NewRecorder(), r)
	return out
}

func TestAllocs(t *testing.T) {
	trusted, _ := ParseTrusted([]string{"192.0.2.0/24"})
	for name, h := range map[string]http.Handler{"open": Middleware(nil)(okApp), "trusted": Middleware(trusted)(okApp)} {
		r := stateRequest()
		if n := testing.AllocsPerRun(1000, func() { h.ServeHTTP(nil, r) }); n != 0 {
			t.Errorf("%s, no forwarded headers: %v allocations, want 0", name, n)
		}
		r = stateRequest([2]string{"X-Forwarded-For", "203.0.113.7"}, [2]string{"X-Forwarded-Proto", "https"})
		if n := testing.AllocsPerRun(1000, func() { h.ServeHTTP(nil, r) }); n > 1 {
			t.Errorf("%s, X-Forwarded-For and -Proto: %v allocations, want at most 1", name, n)
		}
	}
	off, _ := New(context.Background(), &pipeline.Config{})
	h := off(okApp)
	r := stateRequest([2]string{"X-Forwarded-For", "203.0.113.7"})
	if n := testing.AllocsPerRun(1000, func() { h.ServeHTTP(nil, r) }); n != 0 {
		t.Errorf("parsing off: %v allocations, want 0", n)
	}
}

func BenchmarkProxyHeaders(b *testing.B) {
	h := Middleware(nil)(okApp)
	for _, bc := range []struct {
		name string
		r    *http.Request
	}{
		{"none", stateRequest()},
		{"xff", stateRequest([2]string{"X-Forwarded-For", "203.0.113.7, 10.0.0.1"}, [2]string{"X-Forwarded-Proto", "https"}, [2]string{"X-Forwarded-Host", "pub.test"})},
		{"forwarded", stateRequest([2]string{"Forwarded", `for="[2001:db8::1]:4711";proto=https;host=pub.test`})},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(nil, bc.r)
			}
		})
	}
}
