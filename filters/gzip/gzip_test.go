package gzip_test

import (
	"bufio"
	"bytes"
	stdgzip "compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/vietstack/vietstack-api/filters/gzip"
	"github.com/vietstack/vietstack-api/pipeline"
	"github.com/vietstack/vietstack-api/pipeline/paste"
)

var text = strings.Repeat("The quick brown fox jumps over the lazy dog. ", 200) // 9000 bytes

func backend(ct string, body string, etag string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ct != "" {
			w.Header().Set("Content-Type", ct)
		}
		if etag != "" {
			w.Header().Set("Etag", etag)
		}
		io.WriteString(w, body)
	})
}

func defaults() gzip.Options {
	return gzip.Options{MinSize: 1024, Level: -1, ETag: "suffix"}
}

func TestCompression(t *testing.T) {
	tests := []struct {
		name     string
		o        func(*gzip.Options)
		accept   string
		ct, body string
		etag     string
		wantEnc  string
		wantETag string
	}{
		{"gzip text", nil, "gzip, deflate", "text/plain", text, `"v1"`, "gzip", `"v1-gzip"`},
		{"no accept", nil, "", "text/plain", text, `"v1"`, "", `"v1"`},
		{"identity only", nil, "identity", "text/plain", text, "", "", ""},
		{"gzip;q=0", nil, "gzip;q=0", "text/plain", text, "", "", ""},
		{"too small", nil, "gzip", "text/plain", "short body", "", "", ""},
		{"already compressed type", nil, "gzip", "application/zip", text, "", "", ""},
		{"jpeg", nil, "gzip", "image/jpeg", text, "", "", ""},
		{"json", nil, "gzip", "application/json", text, "", "gzip", ""},
		{"allow list hit", func(o *gzip.Options) { o.ContentTypes = []string{"application/json"} }, "gzip", "application/json; charset=utf-8", text, "", "gzip", ""},
		{"allow list miss", func(o *gzip.Options) { o.ContentTypes = []string{"application/json"} }, "gzip", "text/html", text, "", "", ""},
		{"except list", func(o *gzip.Options) { o.Except = []string{"text/csv"} }, "gzip", "text/csv", text, "", "", ""},
		{"min size 0", func(o *gzip.Options) { o.MinSize = 0 }, "gzip", "text/plain", "short body", "", "gzip", ""},
		{"zstd off", nil, "zstd, gzip", "text/plain", text, "", "gzip", ""},
		{"zstd only offered, off", nil, "zstd", "text/plain", text, "", "", ""},
		{"zstd on", func(o *gzip.Options) { o.Zstd = true }, "zstd, gzip", "text/plain", text, `"v2"`, "zstd", `"v2-zstd"`},
		{"drop etag", func(o *gzip.Options) { o.ETag = "drop" }, "gzip", "text/plain", text, `"v1"`, "gzip", ""},
		{"keep etag", func(o *gzip.Options) { o.ETag = "keep" }, "gzip", "text/plain", text, `"v1"`, "gzip", `"v1"`},
		{"padding", func(o *gzip.Options) { o.Jitter = 32 }, "gzip", "text/plain", text, "", "gzip", ""},
		{"level 9", func(o *gzip.Options) { o.Level = 9 }, "gzip", "text/plain", text, "", "gzip", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := defaults()
			if tt.o != nil {
				tt.o(&o)
			}
			mw, err := gzip.New(o)
			if err != nil {
				t.Fatal(err)
			}
			h := pipeline.Root(mw(backend(tt.ct, tt.body, tt.etag)))
			r := httptest.NewRequest("GET", "/", nil)
			if tt.accept != "" {
				r.Header.Set("Accept-Encoding", tt.accept)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if got := w.Header().Get("Content-Encoding"); got != tt.wantEnc {
				t.Fatalf("Content-Encoding %q, want %q", got, tt.wantEnc)
			}
			if !strings.Contains(w.Header().Get("Vary"), "Accept-Encoding") {
				t.Errorf("Vary %q", w.Header().Get("Vary"))
			}
			if tt.etag != "" && w.Header().Get("Etag") != tt.wantETag {
				t.Errorf("ETag %q, want %q", w.Header().Get("Etag"), tt.wantETag)
			}
			var body []byte
			switch tt.wantEnc {
			case "gzip":
				zr, err := stdgzip.NewReader(w.Body)
				if err != nil {
					t.Fatal(err)
				}
				body, err = io.ReadAll(zr)
				if err != nil {
					t.Fatal(err)
				}
			case "zstd":
				zr, err := zstd.NewReader(w.Body)
				if err != nil {
					t.Fatal(err)
				}
				body, err = io.ReadAll(zr)
				zr.Close()
				if err != nil {
					t.Fatal(err)
				}
			default:
				body = w.Body.Bytes()
			}
			if string(body) != tt.body {
				t.Errorf("body mismatch: %d bytes, want %d", len(body), len(tt.body))
			}
			if tt.wantEnc != "" && w.Body.Len() >= len(tt.body) && len(tt.body) > 1024 {
				t.Errorf("compressed size %d not below %d", w.Body.Len(), len(tt.body))
			}
		})
	}
}

func TestStreamingFlushThroughPipelineWriter(t *testing.T) {
	release := make(chan struct{})
	mw, err := gzip.New(defaults())
	if err != nil {
		t.Fatal(err)
	}
	h := pipeline.Root(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, text[:2000]+"\n")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("flush: %v", err)
		}
		<-release
		io.WriteString(w, "end\n")
	})))
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("not compressed: %v", resp.Header)
	}
	got := make(chan string, 1)
	zr, err := stdgzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(zr)
	go func() {
		line, _ := br.ReadString('\n')
		got <- line
	}()
	select {
	case line := <-got:
		if line != text[:2000]+"\n" {
			t.Errorf("first part %d bytes", len(line))
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the flushed part did not reach the client")
	}
	close(release)
	rest, _ := io.ReadAll(br)
	if string(rest) != "end\n" {
		t.Errorf("rest %q", rest)
	}
}

func TestUpgradeBypasses(t *testing.T) {
	mw, _ := gzip.New(defaults())
	var sawGzipWriter bool
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, sawGzipWriter = w.(interface{ Close() error })
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, text)
	}))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Accept-Encoding", "gzip")
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Upgrade", "websocket")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Header().Get("Content-Encoding") != "" || sawGzipWriter || w.Body.String() != text {
		t.Errorf("upgrade request was compressed")
	}
}

func TestFactory(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct{ body, want string }{
		{"level = 10", "level 10"},
		{"content_types = text/plain\nexcept_content_types = image/png", "not both"},
		{"etag = weak", "etag"},
		{"random_padding = 1000", "random_padding"},
		{"min_size = lots", "invalid size"},
		{"minsize = 1", `did you mean "min_size"`},
		{"min_size = 512\ncontent_types = application/json, text/plain\nzstd = yes", ""},
	} {
		path := filepath.Join(dir, "g.ini")
		os.WriteFile(path, []byte("[pipeline:main]\npipeline = gz app\n[filter:gz]\nuse = egg:vietstack#gzip\n"+tt.body+"\n[app:app]\nuse = egg:vietstack#app\n"), 0o644)
		g, err := paste.Load(path, paste.Options{})
		if err != nil {
			t.Fatal(err)
		}
		reg := pipeline.NewRegistry()
		gzip.Register(reg)
		reg.App("app", func(context.Context, *pipeline.Config) (http.Handler, error) {
			return backend("application/json", text, ""), nil
		}, pipeline.Info{})
		gen, err := pipeline.Build(context.Background(), g, pipeline.BuildOptions{Registry: reg})
		if tt.want == "" {
			if err != nil {
				t.Fatalf("%q: %v", tt.body, err)
			}
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Accept-Encoding", "gzip")
			w := httptest.NewRecorder()
			gen.Handler.ServeHTTP(w, r)
			if w.Header().Get("Content-Encoding") != "gzip" {
				t.Errorf("built filter did not compress")
			}
			gen.Close()
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "g.ini:") {
			t.Errorf("%q: error %v, want a positioned %q", tt.body, err, tt.want)
		}
	}
}

func BenchmarkGzip(b *testing.B) {
	mw, _ := gzip.New(defaults())
	h := mw(backend("application/json", text, ""))
	for _, accept := range []string{"gzip", ""} {
		b.Run("accept="+accept, func(b *testing.B) {
			r := httptest.NewRequest("GET", "/", nil)
			if accept != "" {
				r.Header.Set("Accept-Encoding", accept)
			}
			b.ReportAllocs()
			var buf bytes.Buffer
			for b.Loop() {
				buf.Reset()
				w := &httptest.ResponseRecorder{HeaderMap: http.Header{}, Body: &buf}
				h.ServeHTTP(w, r)
			}
		})
	}
}
