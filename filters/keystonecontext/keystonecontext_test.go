package keystonecontext

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vietstack/vietstack-api/filters/identity"
	"github.com/vietstack/vietstack-api/filters/noauth"
	"github.com/vietstack/vietstack-api/pipeline"
)

// authFilter stands for an auth filter that established id (nil: none).
func authFilter(id *pipeline.Identity) pipeline.Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			identity.Strip(r)
			if id != nil {
				identity.Set(r, id)
			} else {
				identity.SetInvalid(r)
			}
			next.ServeHTTP(w, r)
		})
	}
}

func TestKeystoneContext(t *testing.T) {
	alice := &pipeline.Identity{UserID: "u1", UserName: "alice", ProjectID: "p1", Roles: []string{"member"}}
	spoof := http.Header{"X-User-Id": {"admin"}, "X-Roles": {"admin"}, "X-Project-Id": {"p9"}, "X-Identity-Status": {"Confirmed"}}
	tests := []struct {
		name   string
		o      Options
		auth   pipeline.Middleware // nil: no auth filter in front
		hdr    http.Header
		code   int
		wantID *pipeline.Identity
	}{
		{"identity from the auth filter", Options{}, authFilter(alice), spoof.Clone(), 200, alice},
		{"auth filter let an invalid token through", Options{}, authFilter(nil), spoof.Clone(), 401, nil},
		{"no auth filter: spoofed headers refused", Options{}, nil, spoof.Clone(), 401, nil},
		{"no auth filter, no headers", Options{}, nil, http.Header{}, 401, nil},
		{"trusted front end headers", Options{TrustHeaders: true}, nil, spoof.Clone(), 200,
			&pipeline.Identity{UserID: "admin", ProjectID: "p9", Roles: []string{"admin"}}},
		{"trusted headers without user", Options{TrustHeaders: true}, nil, http.Header{"X-Project-Id": {"p"}}, 401, nil},
		{"trusted headers marked invalid", Options{TrustHeaders: true}, nil,
			http.Header{"X-User-Id": {"u"}, "X-Identity-Status": {"Invalid"}}, 401, nil},
		{"identity wins over trusted headers", Options{TrustHeaders: true}, authFilter(alice), spoof.Clone(), 200, alice},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *pipeline.Identity
			called := false
			app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				called, got = true, pipeline.RequestFrom(r).Identity
			})
			h := New(tt.o)(app)
			if tt.auth != nil {
				h = tt.auth(h)
			}
			r := httptest.NewRequest("GET", "/", nil)
			r.Header = tt.hdr
			w := httptest.NewRecorder()
			pipeline.Root(h).ServeHTTP(w, r)
			if w.Code != tt.code || called != (tt.code == 200) {
				t.Fatalf("status %d, app called %v; want %d", w.Code, called, tt.code)
			}
			if diff := cmp.Diff(tt.wantID, got); diff != "" {
				t.Errorf("identity (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWithNoauth: behind noauth the caller gets through, with the
// identity headers when the app may read them and without them when the
// app says it reads none.
func TestWithNoauth(t *testing.T) {
	na, err := noauth.New(noauth.Options{AdminUser: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	for _, quietApp := range []bool{false, true} {
		var got *pipeline.Identity
		var hdr http.Header
		var app http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got, hdr = pipeline.RequestFrom(r).Identity, r.Header.Clone()
		})
		if quietApp {
			app = quiet{app}
		}
		h := pipeline.Root(na(New(Options{})(app)))
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("X-Auth-Token", "admin:demo")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 || got == nil || got.UserID != "admin" || got.ProjectID != "demo" {
			t.Errorf("quiet app %v: status %d identity %+v", quietApp, w.Code, got)
		}
		if written := hdr.Get("X-User-Id") != ""; written == quietApp {
			t.Errorf("quiet app %v: X-User-Id written %v (headers %v)", quietApp, written, hdr)
		}
	}
}

func TestRegister(t *testing.T) {
	reg := pipeline.NewRegistry()
	Register(reg)
	for _, a := range append([]string{"egg:vietstack#keystonecontext"}, Aliases...) {
		if f, ok := reg.Lookup(a, pipeline.KindFilter); !ok || f.Name != "keystonecontext" {
			t.Errorf("%s does not resolve to keystonecontext", a)
		}
	}
}

func TestFactory(t *testing.T) {
	if _, err := Factory(context.Background(), &pipeline.Config{Name: "filter:kc", Local: map[string]string{"trust_headers": "yes"}}); err != nil {
		t.Error(err)
	}
	if _, err := Factory(context.Background(), &pipeline.Config{Name: "filter:kc", Local: map[string]string{"trust_header": "yes"}}); err == nil {
		t.Error("misspelt option accepted")
	}
}

type quiet struct{ http.Handler }

func (quiet) ReadsIdentityHeaders() bool { return false }

// TestReadsIdentityHeaders: keystonecontext reads identity headers itself
// only with trust_headers; otherwise it reports what its next handler
// reports, so that an auth filter in front of it and a quiet app can skip
// the headers (TestWithNoauth).
func TestReadsIdentityHeaders(t *testing.T) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	for _, tt := range []struct {
		trust bool
		next  http.Handler
		want  bool
	}{
		{false, app, true},
		{false, quiet{app}, false},
		{true, quiet{app}, true},
	} {
		if got := pipeline.ReadsIdentityHeaders(New(Options{TrustHeaders: tt.trust})(tt.next)); got != tt.want {
			t.Errorf("trust %v, next %T: ReadsIdentityHeaders = %v, want %v", tt.trust, tt.next, got, tt.want)
		}
	}
}
