package static_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vietstack/vietstack-api/apps/static"
	"github.com/vietstack/vietstack-api/pipeline"
	"github.com/vietstack/vietstack-api/pipeline/paste"
)

const secret = "SECRET-OUTSIDE-THE-ROOT"

// tree makes base/outside/secret.txt and base/root with files, dotfiles
// and symlinks in and out of the root; it returns the root.
func tree(t testing.TB) (base, root string) {
	t.Helper()
	base = t.TempDir()
	root = filepath.Join(base, "root")
	files := map[string]string{
		"outside/secret.txt":  secret,
		"outside/passwd":      secret,
		"root/index.html":     "<h1>home</h1>",
		"root/a.txt":          "alpha",
		"root/sub/b.txt":      "beta",
		"root/sub/.hidden":    secret,
		"root/.git/config":    secret,
		"root/.env":           secret,
		"root/docs/index.htm": "not the index",
		"root/docs/c.txt":     "gamma <&>",
	}
	for name, body := range files {
		p := filepath.Join(base, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"root/link-out":          "../outside/secret.txt",
		"root/link-dir-out":      "../outside",
		"root/link-abs":          filepath.Join(base, "outside/secret.txt"),
		"root/sub/link-up":       "../../outside/passwd",
		"root/link-in":           "a.txt",
		"root/link-dot":          ".env",
		"root/sub/link-loop":     "link-loop",
		"root/docs/link-to-root": "..",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(base, name)); err != nil {
			t.Fatal(err)
		}
	}
	return base, root
}

func serve(t *testing.T, o static.Options) *httptest.Server {
	t.Helper()
	h, err := static.New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(pipeline.Root(h))
	t.Cleanup(func() { srv.Close(); h.Close() })
	return srv
}

func raw(t *testing.T, addr, method, target string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	req := method + " " + target + " HTTP/1.1\r\nHost: files.example\r\nConnection: close\r\n"
	for _, h := range hdr {
		req += h + "\r\n"
	}
	io.WriteString(conn, req+"\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s: %v", target, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, body
}

// traversals returns request targets that try to leave the root or reach
// a dotfile.
func traversals(base string) []string {
	dots := []string{"..", "%2e%2e", "%2E%2E", ".%2e", "%2e.", "%252e%252e", "%c0%ae%c0%ae", "..%00", "%2e%2e%00", "..%c0%af", "..;"}
	seps := []string{"/", "%2f", "%2F", "%5c", "%5C", "%252f", "//", "/./"}
	targets := []string{"outside/secret.txt", "outside/passwd", ".git/config", "root/.env"}
	var out []string
	for _, d := range dots {
		for _, s := range seps {
			for depth := 1; depth <= 3; depth++ {
				p := "/" + strings.Repeat(d+s, depth)
				out = append(out, p+targets[depth%len(targets)])
			}
			out = append(out, "/sub/"+d+s+d+s+"outside/secret.txt")
		}
	}
	abs := filepath.Join(base, "outside/secret.txt")
	out = append(out,
		abs, "/"+abs, "//"+strings.TrimPrefix(abs, "/"), "/%2f"+strings.TrimPrefix(abs, "/"),
		"/link-out", "/link-dir-out/secret.txt", "/link-dir-out/", "/link-abs", "/sub/link-up", "/link-dot",
		"/sub/link-loop", "/docs/link-to-root/a.txt", "/docs/link-to-root/.env",
		"/.git/config", "/.git/", "/.git", "/.env", "/%2eenv", "/%2Egit/config", "/sub/.hidden", "/sub/%2ehidden",
		"/sub/./.hidden", "/./.env", "/.%2fenv", "/a.txt/../.env", "/a.txt%00.html", "/.env%00", "/%00",
		"/sub\\..\\..\\outside\\secret.txt", "/..\\outside\\secret.txt", "/...", "/....//outside/secret.txt",
		"/%2e%2e%2f%2e%2e%2foutside%2fsecret.txt", "/sub/..%252f..%252foutside/secret.txt",
		"/%u002e%u002e/outside/secret.txt", "/.%00./outside/secret.txt", "/..%0d%0a/outside",
		"/..%2500/outside/secret.txt", "/sub/%2e%2e/%2e%2e/outside/secret.txt",
		"/..", "/../", "/%2e%2e", "/sub/..", "/sub/../../", "http://files.example/../outside/secret.txt",
		"/root/../outside/secret.txt", "/%ef%bc%8e%ef%bc%8e/outside/secret.txt",
	)
	return out
}

func TestTraversalCorpus(t *testing.T) {
	base, root := tree(t)
	for _, listing := range []bool{false, true} {
		srv := serve(t, static.Options{DocumentRoot: root, Index: "index.html", Listing: listing, Symlinks: listing})
		addr := srv.Listener.Addr().String()
		corpus := traversals(base)
		if len(corpus) < 200 {
			t.Fatalf("corpus has %d variants, want at least 200", len(corpus))
		}
		for _, target := range corpus {
			for _, method := range []string{"GET", "HEAD"} {
				resp, body := raw(t, addr, method, target)
				if bytes.Contains(body, []byte(secret)) || bytes.Contains(body, []byte("SECRET")) {
					t.Errorf("%s %s (listing=%v): served bytes from outside the root or a dotfile", method, target, listing)
				}
				if resp.StatusCode == 200 && target != "/docs/link-to-root/a.txt" {
					// Only the in-root symlink to a directory inside the
					// root may serve, and then not a secret.
					t.Errorf("%s %s: status 200", method, target)
				}
				if resp.StatusCode >= 500 {
					t.Errorf("%s %s: status %d", method, target, resp.StatusCode)
				}
				if resp.StatusCode == 404 && method == "GET" && bytes.ContainsAny(body, "<%") {
					t.Errorf("%s: 404 body echoes the path: %q", target, body)
				}
			}
		}
	}
}

func TestServe(t *testing.T) {
	_, root := tree(t)
	srv := serve(t, static.Options{DocumentRoot: root, Index: "index.html", CacheMaxAge: time.Hour, Symlinks: true})
	addr := srv.Listener.Addr().String()
	tests := []struct {
		method, target string
		hdr            []string
		status         int
		body           string
		header         map[string]string
	}{
		{"GET", "/a.txt", nil, 200, "alpha", map[string]string{"Cache-Control": "public, max-age=3600", "Content-Type": "text/plain; charset=utf-8"}},
		{"HEAD", "/a.txt", nil, 200, "", map[string]string{"Content-Length": "5"}},
		{"GET", "/", nil, 200, "<h1>home</h1>", nil},
		{"GET", "//a.txt", nil, 200, "alpha", nil},
		{"GET", "/sub//b.txt", nil, 200, "beta", nil},
		{"GET", "/link-in", nil, 200, "alpha", nil},
		{"GET", "/a%2etxt", nil, 200, "alpha", nil},
		{"GET", "/a.txt", []string{"Range: bytes=1-3"}, 206, "lph", map[string]string{"Content-Range": "bytes 1-3/5"}},
		{"GET", "/sub", nil, 301, "", map[string]string{"Location": "/sub/"}},
		{"GET", "/sub/", nil, 404, "", nil}, // no index, no listing
		{"GET", "/docs/", nil, 404, "", nil},
		{"GET", "/missing", nil, 404, "", nil},
		{"GET", "/<script>alert(1)</script>", nil, 404, "", nil},
		{"POST", "/a.txt", nil, 405, "", map[string]string{"Allow": "GET, HEAD"}},
		{"DELETE", "/a.txt", nil, 405, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			resp, body := raw(t, addr, tt.method, tt.target, tt.hdr...)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tt.status, body)
			}
			if tt.body != "" && string(body) != tt.body {
				t.Errorf("body %q, want %q", body, tt.body)
			}
			for k, v := range tt.header {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if resp.StatusCode == 404 && bytes.Contains(body, []byte("script")) {
				t.Errorf("404 echoes the path: %s", body)
			}
		})
	}
	// Conditional requests: ETag then If-None-Match gives 304.
	resp, _ := raw(t, addr, "GET", "/a.txt")
	etag := resp.Header.Get("Etag")
	if etag == "" || resp.Header.Get("Last-Modified") == "" {
		t.Fatalf("no ETag/Last-Modified: %v", resp.Header)
	}
	resp, _ = raw(t, addr, "GET", "/a.txt", "If-None-Match: "+etag)
	if resp.StatusCode != 304 {
		t.Errorf("If-None-Match: status %d, want 304", resp.StatusCode)
	}
}

func TestListingAndRedirectUnderScriptName(t *testing.T) {
	_, root := tree(t)
	dir := t.TempDir()
	ini := filepath.Join(dir, "s.ini")
	os.WriteFile(ini, []byte(`[composite:main]
use = egg:Paste#urlmap
/files = files

[app:files]
use = egg:Paste#static
document_root = `+root+`
listing = true
`), 0o644)
	g, err := paste.Load(ini, paste.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg := pipeline.NewRegistry()
	static.Register(reg)
	gen, err := pipeline.Build(context.Background(), g, pipeline.BuildOptions{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer gen.Close()
	srv := httptest.NewServer(gen.Handler)
	defer srv.Close()
	addr := srv.Listener.Addr().String()

	resp, _ := raw(t, addr, "GET", "/files/sub")
	if resp.StatusCode != 301 || resp.Header.Get("Location") != "/files/sub/" {
		t.Errorf("redirect: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, _ = raw(t, addr, "GET", "/files//sub")
	if loc := resp.Header.Get("Location"); resp.StatusCode != 301 || strings.HasPrefix(loc, "//") {
		t.Errorf("redirect of //: %d %q", resp.StatusCode, loc)
	}
	resp, body := raw(t, addr, "GET", "/files/sub/")
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`href="./b.txt"`)) {
		t.Fatalf("listing: %d %s", resp.StatusCode, body)
	}
	if bytes.Contains(body, []byte(".hidden")) {
		t.Error("listing shows a dotfile")
	}
	resp, body = raw(t, addr, "GET", "/files/docs/c.txt")
	if resp.StatusCode != 200 || string(body) != "gamma <&>" {
		t.Errorf("file under script name: %d %q", resp.StatusCode, body)
	}
}

func TestSymlinksRefusedWhenOff(t *testing.T) {
	_, root := tree(t)
	srv := serve(t, static.Options{DocumentRoot: root, Index: "index.html"})
	for _, p := range []string{"/link-in", "/docs/link-to-root/a.txt"} {
		if resp, _ := raw(t, srv.Listener.Addr().String(), "GET", p); resp.StatusCode != 404 {
			t.Errorf("%s: status %d, want 404 with follow_symlinks off", p, resp.StatusCode)
		}
	}
	if resp, _ := raw(t, srv.Listener.Addr().String(), "GET", "/a.txt"); resp.StatusCode != 200 {
		t.Errorf("plain file: %d", resp.StatusCode)
	}
}

func TestRootRedirectWithoutScriptNameNeverSchemeRelative(t *testing.T) {
	_, root := tree(t)
	h, err := static.New(static.Options{DocumentRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	for _, p := range []string{"//sub", "///sub", "/sub"} {
		r := httptest.NewRequest("GET", "http://x/", nil)
		r.URL.Path = p
		w := httptest.NewRecorder()
		pipeline.Root(h).ServeHTTP(w, r)
		if loc := w.Header().Get("Location"); w.Code != 301 || loc != "/sub/" {
			t.Errorf("%s: %d %q, want 301 /sub/", p, w.Code, loc)
		}
	}
}

func TestOptionErrors(t *testing.T) {
	_, root := tree(t)
	for _, tt := range []struct {
		o    static.Options
		want string
	}{
		{static.Options{}, "document_root is required"},
		{static.Options{DocumentRoot: filepath.Join(root, "nope")}, "no such file"},
		{static.Options{DocumentRoot: root, Index: "../x"}, "plain file name"},
	} {
		if _, err := static.New(tt.o); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: error %v, want %q", tt.o, err, tt.want)
		}
	}
}

func BenchmarkStatic(b *testing.B) {
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "a.txt"), bytes.Repeat([]byte("x"), 4096), 0o644)
	h, err := static.New(static.Options{DocumentRoot: dir, Index: "index.html"})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	r := httptest.NewRequest("GET", "/a.txt", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}

// FuzzPath: whatever the decoded path, nothing from outside the root or
// from a dotfile is served, and nothing fails with 5xx.
func FuzzPath(f *testing.F) {
	for _, s := range []string{"/a.txt", "/../outside/secret.txt", "/sub/../../outside/passwd", "/.env", "/link-out",
		"/docs/link-to-root/.env", "//sub//b.txt", "/sub/", "/\x00", "/..\\..\\outside"} {
		f.Add(s)
	}
	base, root := tree(f)
	_ = base
	h, err := static.New(static.Options{DocumentRoot: root, Index: "index.html", Listing: true, Symlinks: true})
	if err != nil {
		f.Fatal(err)
	}
	defer h.Close()
	f.Fuzz(func(t *testing.T, p string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.URL.Path = p
		r.URL.RawPath = ""
		w := httptest.NewRecorder()
		pipeline.Root(h).ServeHTTP(w, r)
		if bytes.Contains(w.Body.Bytes(), []byte("SECRET")) {
			t.Fatalf("%q served a secret", p)
		}
		if w.Code >= 500 {
			t.Fatalf("%q: status %d", p, w.Code)
		}
	})
}

func TestDepthBounded(t *testing.T) {
	_, root := tree(t)
	srv := serve(t, static.Options{DocumentRoot: root, Symlinks: true})
	deep := "/docs" + strings.Repeat("/link-to-root/docs", 40) + "/c.txt"
	if resp, _ := raw(t, srv.Listener.Addr().String(), "GET", deep); resp.StatusCode != 404 {
		t.Errorf("81-segment path through a symlink loop: status %d, want 404", resp.StatusCode)
	}
	ok := "/docs" + strings.Repeat("/link-to-root/docs", 5) + "/c.txt"
	if resp, body := raw(t, srv.Listener.Addr().String(), "GET", ok); resp.StatusCode != 200 || string(body) != "gamma <&>" {
		t.Errorf("11-segment path: %d %q", resp.StatusCode, body)
	}
}
