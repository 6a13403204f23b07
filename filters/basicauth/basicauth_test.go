package basicauth

// Fixtures in testdata were made with Apache's htpasswd (Debian
// apache2-utils): users.htpasswd and uniform.htpasswd with -B (bcrypt),
// mixed.htpasswd with -m, -s, -d and -B; malformed.htpasswd by hand.

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vietstack/vietstack-api/pipeline"
)

func config(local map[string]string) *pipeline.Config {
	return &pipeline.Config{Name: "filter:basic_auth", Local: local, Global: map[string]string{}}
}

type app struct {
	mu     sync.Mutex
	header http.Header
	id     *pipeline.Identity
}

func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.header = r.Header.Clone()
	if st := pipeline.RequestFrom(r); st != nil {
		a.id = st.Identity
	}
	io.WriteString(w, "ok")
}

func build(t testing.TB, local map[string]string) (http.Handler, *app) {
	t.Helper()
	mw, err := Factory(context.Background(), config(local))
	if err != nil {
		t.Fatal(err)
	}
	a := &app{}
	return pipeline.Root(mw(a)), a
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func send(h http.Handler, auth string, extra ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", "/", nil)
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		r.Header.Add(extra[i], extra[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestBasicAuth(t *testing.T) {
	h, a := build(t, map[string]string{"http_basic_auth_user_file": "testdata/users.htpasswd", "realm": "Test API"})
	long := strings.Repeat("p", 72)
	const unauthorized = `{"error":{"message":"This server could not verify that you are authorized to access the document you requested. Either you supplied the wrong credentials (e.g., bad password), or your browser does not understand how to supply the credentials required.","code":401}}`
	for _, tc := range []struct {
		name, auth string
		user       string // "" for 401
		body       string
	}{
		{"alice", basic("alice", "alice-secret"), "alice", ""},
		{"scheme in lower case", "basic " + base64.StdEncoding.EncodeToString([]byte("alice:alice-secret")), "alice", ""},
		{"password with a colon", basic("bob", "b0b:with colon"), "bob", ""},
		{"72-byte password", basic("carol", long), "carol", ""},
		{"73 bytes: bcrypt would truncate", basic("carol", long+"x"), "", unauthorized},
		{"wrong password", basic("alice", "wrong"), "", unauthorized},
		{"unknown user", basic("mallory", "alice-secret"), "", unauthorized},
		{"empty password", basic("alice", ""), "", unauthorized},
		{"no header", "", "", unauthorized},
		{"bearer", "Bearer abc", "", `{"error":{"message":"Unsupported authorization type","code":401}}`},
		{"no credentials", "Basic", "", `{"error":{"message":"Could not parse Authorization header","code":401}}`},
		{"bad base64", "Basic !!!", "", `{"error":{"message":"Could not decode authorization token","code":401}}`},
		{"no colon", "Basic " + base64.StdEncoding.EncodeToString([]byte("alice")), "", `{"error":{"message":"Could not decode authorization token","code":401}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a.header = nil
			w := send(h, tc.auth, "X-Roles", "admin", "X_User_Id", "evil", "X-Identity-Status", "Confirmed", "X-Is-Admin-Project", "True")
			if tc.user == "" {
				if w.Code != 401 || w.Body.String() != tc.body {
					t.Fatalf("got %d %q, want 401 %q", w.Code, w.Body, tc.body)
				}
				if got := w.Header().Get("WWW-Authenticate"); got != `Basic realm="Test API"` {
					t.Errorf("WWW-Authenticate %q", got)
				}
				if w.Header().Get("Content-Type") != "application/json" {
					t.Errorf("Content-Type %q", w.Header().Get("Content-Type"))
				}
				if a.header != nil {
					t.Errorf("app called")
				}
				return
			}
			if w.Code != 200 {
				t.Fatalf("status %d %s", w.Code, w.Body)
			}
			for k, v := range map[string]string{
				"X-Identity-Status": "Confirmed", "X-User-Id": tc.user, "X-User-Name": tc.user,
				"X-User": tc.user, "X-Roles": "", "X-Is-Admin-Project": "False",
			} {
				if got := a.header.Values(k); len(got) != 1 || got[0] != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			for k := range a.header {
				if k == "Authorization" || k == "X_user_id" {
					t.Errorf("%s reached the app", k)
				}
			}
			if a.id == nil || a.id.UserID != tc.user {
				t.Errorf("identity %+v", a.id)
			}
		})
	}
}

type quietApp struct{ app }

func (*quietApp) ReadsIdentityHeaders() bool { return false }

// TestQuietApp: before an app that reads no identity header the caller
// goes in the request state only; spoofed headers are stripped all the same.
func TestQuietApp(t *testing.T) {
	mw, err := Factory(context.Background(), config(map[string]string{"http_basic_auth_user_file": "testdata/users.htpasswd"}))
	if err != nil {
		t.Fatal(err)
	}
	a := &quietApp{}
	w := send(pipeline.Root(mw(a)), basic("alice", "alice-secret"), "X-Roles", "admin", "X_User_Id", "evil", "Accept", "*/*")
	if w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	if len(a.header) != 1 || a.header.Get("Accept") != "*/*" {
		t.Errorf("headers reaching the app: %v", a.header)
	}
	if a.id == nil || a.id.UserID != "alice" || a.id.UserName != "alice" {
		t.Errorf("identity %+v", a.id)
	}
}

func TestHtpasswdRejected(t *testing.T) {
	_, err := ReadHtpasswd("testdata/mixed.htpasswd")
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"testdata/mixed.htpasswd:1: user \"md5user\": $apr1$ (Apache MD5) hashes are not supported",
		"testdata/mixed.htpasswd:2: user \"shauser\": {SHA} (SHA-1) hashes are not supported",
		"testdata/mixed.htpasswd:3: user \"cryptuser\": crypt or plain-text hashes are not supported",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q\nlacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "gooduser") {
		t.Errorf("the bcrypt line was reported: %v", err)
	}

	_, err = ReadHtpasswd("testdata/malformed.htpasswd")
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"malformed.htpasswd:4: malformed line: want user:bcrypt-hash",
		"malformed.htpasswd:5: malformed line: the user name is empty",
		"malformed.htpasswd:6: user \"alice\" is already defined at line 3",
		"malformed.htpasswd:7: user \"broken\": malformed bcrypt hash",
		"malformed.htpasswd:8: user \"plain\": crypt or plain-text hashes",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q\nlacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), ":1:") || strings.Contains(err.Error(), ":2:") {
		t.Errorf("comment or blank line reported: %v", err)
	}

	// Through the factory: errors stay positioned; other problems name the option.
	for _, tc := range []struct {
		local map[string]string
		want  string
	}{
		{map[string]string{"http_basic_auth_user_file": "testdata/mixed.htpasswd"}, "mixed.htpasswd:1:"},
		{map[string]string{"http_basic_auth_user_file": "testdata/nope"}, "http_basic_auth_user_file: stat testdata/nope"},
		{map[string]string{"http_basic_auth_user_file": "testdata/users.htpasswd", "realm": `a"b`}, "realm:"},
		{map[string]string{"http_basic_auth_user_file": "testdata/users.htpasswd", "cache_time": "soon"}, "cache_time: invalid duration"},
		{map[string]string{"http_basic_auth_user_file": "testdata/users.htpasswd", "cache_max_entries": "0"}, "cache_max_entries"},
		{map[string]string{"http_basic_auth_user_fil": "x"}, `did you mean "http_basic_auth_user_file"`},
	} {
		if _, err := Factory(context.Background(), config(tc.local)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.local, err, tc.want)
		}
	}
	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, []byte("# nobody\n"), 0o644)
	if _, err := ReadHtpasswd(empty); err == nil || !strings.Contains(err.Error(), "holds no users") {
		t.Errorf("empty file: %v", err)
	}
}

func TestOsloUserFile(t *testing.T) {
	dir := t.TempDir()
	abs, _ := filepath.Abs("testdata/users.htpasswd")
	os.WriteFile(filepath.Join(dir, "glance-api.conf"), []byte("[oslo_middleware]\nhttp_basic_auth_user_file = "+abs+"\n"), 0o644)
	c := config(map[string]string{"oslo_config_file": "glance-api.conf"})
	c.Global["here"] = dir
	mw, err := Factory(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if w := send(pipeline.Root(mw(&app{})), basic("alice", "alice-secret")); w.Code != 200 {
		t.Errorf("status %d", w.Code)
	}
}

func TestCacheSkipsBcrypt(t *testing.T) {
	users, err := ReadHtpasswd("testdata/uniform.htpasswd")
	if err != nil {
		t.Fatal(err)
	}
	f, err := newFilter(Options{CacheTime: time.Minute, CacheMaxEntries: 2}, users)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	start := time.Now()
	if !f.verify(ctx, "dave", "dave-secret") {
		t.Fatal("dave refused")
	}
	first := time.Since(start)
	start = time.Now()
	for range 20 {
		if !f.verify(ctx, "dave", "dave-secret") {
			t.Fatal("dave refused (cached)")
		}
	}
	if cached := time.Since(start) / 20; cached*10 > first {
		t.Errorf("cached check %v vs bcrypt %v: the cache is not used", cached, first)
	}
	// Wrong passwords are never cached, the cache stays bounded.
	if f.verify(ctx, "dave", "wrong") || f.verify(ctx, "dave", "wrong") {
		t.Error("wrong password accepted")
	}
	f.verify(ctx, "erin", "erin-secret")
	f.verify(ctx, "dave", "dave-secret")
	if len(f.cache) > 2 {
		t.Errorf("cache has %d entries, bound 2", len(f.cache))
	}
}

// TestUnknownUserTiming: an unknown user must cost what a wrong password
// costs (reliability.md A2: medians within 10 %).
func TestUnknownUserTiming(t *testing.T) {
	if raceEnabled {
		t.Skip("timing under the race detector means nothing")
	}
	users, err := ReadHtpasswd("testdata/uniform.htpasswd")
	if err != nil {
		t.Fatal(err)
	}
	f, err := newFilter(Options{MaxConcurrentChecks: 1}, users)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var ratio float64
	for attempt := 0; attempt < 3; attempt++ {
		var wrong, unknown []time.Duration
		for range 100 {
			s := time.Now()
			f.verify(ctx, "dave", "not-the-password")
			wrong = append(wrong, time.Since(s))
			s = time.Now()
			f.verify(ctx, "nobody", "not-the-password")
			unknown = append(unknown, time.Since(s))
		}
		slices.Sort(wrong)
		slices.Sort(unknown)
		ratio = float64(unknown[50]) / float64(wrong[50])
		if ratio > 0.9 && ratio < 1.1 {
			return
		}
	}
	t.Errorf("median unknown-user / wrong-password time = %.2f, want within 10%%", ratio)
}

func TestRegister(t *testing.T) {
	reg := pipeline.NewRegistry()
	Register(reg)
	for _, a := range append([]string{"basic_auth", "egg:vietstack#basic_auth"}, Aliases...) {
		if f, ok := reg.Lookup(a, pipeline.KindFilter); !ok || f.Name != "basic_auth" {
			t.Errorf("%s does not resolve", a)
		}
	}
}

func FuzzReadHtpasswd(f *testing.F) {
	for _, p := range []string{"testdata/users.htpasswd", "testdata/mixed.htpasswd", "testdata/malformed.htpasswd"} {
		data, _ := os.ReadFile(p)
		f.Add(string(data))
	}
	f.Fuzz(func(t *testing.T, text string) {
		p := filepath.Join(t.TempDir(), "htpasswd")
		os.WriteFile(p, []byte(text), 0o644)
		users, err := ReadHtpasswd(p)
		if err != nil {
			return
		}
		for u, h := range users {
			if u == "" || hashKind(string(h)) != "" {
				t.Fatalf("accepted %q:%q", u, h)
			}
		}
	})
}
