package ipfilter_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vietstack/vietstack-api/filters/ipfilter"
	"github.com/vietstack/vietstack-api/pipeline"
	"github.com/vietstack/vietstack-api/pipeline/paste"
)

var ok = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })

func prefixes(t *testing.T, s string) ipfilter.Prefixes {
	t.Helper()
	var p ipfilter.Prefixes
	if err := p.UnmarshalText([]byte(s)); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAllowDeny(t *testing.T) {
	tests := []struct {
		allow, deny string
		unknown     bool
		remote      string
		pass        bool
	}{
		{"10.0.0.0/8, 192.0.2.7", "", false, "10.1.2.3:5000", true},
		{"10.0.0.0/8, 192.0.2.7", "", false, "192.0.2.7:1", true},
		{"10.0.0.0/8, 192.0.2.7", "", false, "192.0.2.8:1", false},
		{"10.0.0.0/8", "", false, "[::ffff:10.9.9.9]:1", true},
		{"10.0.0.0/8", "10.6.0.0/16", false, "10.6.1.1:1", false},
		{"10.0.0.0/8", "10.6.0.0/16", false, "10.7.1.1:1", true},
		{"", "203.0.113.0/24", false, "203.0.113.99:1", false},
		{"", "203.0.113.0/24", false, "198.51.100.1:1", true},
		{"2001:db8::/32", "", false, "[2001:db8:1::5]:443", true},
		{"2001:db8::/32", "", false, "[2001:db9::5]:443", false},
		{"fe80::/10", "", false, "[fe80::1%eth0]:1", true},
		{"::ffff:10.0.0.0/104", "", false, "10.2.3.4:1", true},
		{"10.0.0.0/8", "", false, "10.1.1.1", true}, // bare address
		{"10.0.0.0/8", "", false, "@", false},       // unix socket
		{"", "10.0.0.0/8", false, "", false},
		{"", "10.0.0.0/8", true, "@", true},
	}
	for _, tt := range tests {
		f := ipfilter.New(ipfilter.Options{Allow: prefixes(t, tt.allow), Deny: prefixes(t, tt.deny), AllowUnknown: tt.unknown})
		h := pipeline.Root(f.Middleware(ok))
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.remote
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if pass := w.Code == 204; pass != tt.pass {
			t.Errorf("allow %q deny %q from %q: status %d, want pass=%v", tt.allow, tt.deny, tt.remote, w.Code, tt.pass)
		}
		if w.Code == 403 && !strings.Contains(w.Body.String(), `"code": 403`) {
			t.Errorf("fault %q", w.Body)
		}
	}
}

// TestUsesDerivedAddress: a spoofed X-Forwarded-For changes nothing; the
// pipeline's RemoteAddr (set by http_proxy_to_wsgi for trusted peers) is
// what counts.
func TestUsesDerivedAddress(t *testing.T) {
	f := ipfilter.New(ipfilter.Options{Allow: prefixes(t, "10.0.0.0/8")})
	derive := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if v := r.Header.Get("X-Test-Derived"); v != "" {
				pipeline.RequestFrom(r).RemoteAddr = v
			}
			next.ServeHTTP(w, r)
		})
	}
	h := pipeline.Root(derive(f.Middleware(ok)))
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "198.51.100.1:1"
	r.Header.Set("X-Forwarded-For", "10.0.0.1")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 403 {
		t.Errorf("spoofed X-Forwarded-For passed: %d", w.Code)
	}
	r.Header.Set("X-Test-Derived", "10.0.0.1:0")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 204 {
		t.Errorf("derived address refused: %d", w.Code)
	}
}

func TestOptionErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct{ body, want string }{
		{"", "give allow, deny or both"},
		{"allow = 10.0.0.0/33", "invalid prefix"},
		{"allow = 10.0.0.1/8", "did you mean 10.0.0.0/8"},
		{"deny = example.com", "invalid address"},
	} {
		path := filepath.Join(dir, "i.ini")
		os.WriteFile(path, []byte("[pipeline:main]\npipeline = i app\n[filter:i]\nuse = egg:vietstack#ipfilter\n"+tt.body+"\n[app:app]\nuse = egg:vietstack#ipfilter\n"), 0o644)
		g, err := paste.Load(path, paste.Options{})
		if err != nil {
			t.Fatal(err)
		}
		reg := pipeline.NewRegistry()
		ipfilter.Register(reg)
		_, err = pipeline.Build(context.Background(), g, pipeline.BuildOptions{Registry: reg})
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "i.ini:") {
			t.Errorf("%q: %v", tt.body, err)
		}
	}
}

type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

func TestPassAllocs(t *testing.T) {
	f := ipfilter.New(ipfilter.Options{Allow: prefixes(t, "10.0.0.0/8 2001:db8::/32"), Deny: prefixes(t, "10.6.0.0/16")})
	h := f.Middleware(ok)
	for _, remote := range []string{"10.1.1.1:80", "[2001:db8::1]:80"} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		w := &nopWriter{h: http.Header{}}
		if n := testing.AllocsPerRun(1000, func() { h.ServeHTTP(w, r) }); n != 0 {
			t.Errorf("%s: %v allocs per passed request", remote, n)
		}
	}
}

func BenchmarkIPFilter(b *testing.B) {
	var allow ipfilter.Prefixes
	allow.UnmarshalText([]byte("10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 2001:db8::/32"))
	h := ipfilter.New(ipfilter.Options{Allow: allow}).Middleware(ok)
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "192.168.1.1:5000"
	w := &nopWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

// FuzzPrefixes: parsing never panics, and an address inside an accepted
// bare-address entry is allowed by an allow list made of it.
func FuzzPrefixes(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "::1 192.0.2.1", "fe80::1%eth0", "::ffff:10.0.0.0/104", "1.2.3.4/33"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var p ipfilter.Prefixes
		if err := p.UnmarshalText([]byte(s)); err != nil {
			return
		}
		flt := ipfilter.New(ipfilter.Options{Allow: p})
		for _, pr := range p {
			if !flt.Allowed(pr.Addr().String()) {
				t.Fatalf("%q: %s not allowed by its own prefix %s", s, pr.Addr(), pr)
			}
		}
	})
}
