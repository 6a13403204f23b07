package cors_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/vietstack/vietstack-api/filters/cors"
	"github.com/vietstack/vietstack-api/filters/proxyheaders"
	"github.com/vietstack/vietstack-api/filters/requestid"
	"github.com/vietstack/vietstack-api/filters/sizelimit"
	"github.com/vietstack/vietstack-api/pipeline"
)

// TestOsloDiffCombined replays the oslo-diff "combined" target (nova's
// order: cors http_proxy_to_wsgi request_id [catch_errors] sizelimit echo)
// through the four filters of this group, built from the ini's options by
// their factories. catch_errors is left out: no case of the target reaches
// it.
func TestOsloDiffCombined(t *testing.T) {
	ctx := context.Background()
	build := func(f pipeline.FilterFactory, name string, local map[string]string) pipeline.Middleware {
		mw, err := f(ctx, &pipeline.Config{Name: "filter:" + name, Local: local})
		if err != nil {
			t.Fatal(err)
		}
		return mw
	}
	chain := []pipeline.Middleware{
		build(cors.New, "cors", map[string]string{
			"allowed_origin": "https://dashboard.example.test",
			"expose_headers": "X-Openstack-Request-Id",
			"allow_headers":  "X-Auth-Token, X-Openstack-Request-Id",
		}),
		build(proxyheaders.New, "http_proxy_to_wsgi", map[string]string{"enable_proxy_headers_parsing": "true"}),
		build(requestid.New, "request_id", nil),
		build(sizelimit.New, "sizelimit", map[string]string{"max_request_body_size": "1024"}),
	}
	var h http.Handler = http.HandlerFunc(echo)
	for _, mw := range slices.Backward(chain) {
		h = mw(h)
	}
	h = pipeline.Root(h)

	files, _ := filepath.Glob("testdata/oslo-diff/combined/*.json")
	if len(files) == 0 {
		t.Fatal("no records")
	}
	reqID := regexp.MustCompile(`^req-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			var rec struct {
				Request struct {
					Method     string      `json:"method"`
					Target     string      `json:"target"`
					Headers    [][2]string `json:"headers"`
					BodyLength int         `json:"body_length"`
					Chunks     []int       `json:"chunks"`
				} `json:"request"`
				Status      int                        `json:"status"`
				HeaderNames []string                   `json:"header_names"`
				Headers     map[string]json.RawMessage `json:"headers"`
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &rec); err != nil {
				t.Fatal(err)
			}
			body := strings.Repeat("b", rec.Request.BodyLength)
			r := httptest.NewRequest(rec.Request.Method, "http://api.example.test"+rec.Request.Target, strings.NewReader(body))
			if rec.Request.Chunks != nil {
				r.Body = io.NopCloser(strings.NewReader(body))
				r.ContentLength = -1
			}
			for _, kv := range rec.Request.Headers {
				switch kv[0] {
				case "Host", "Connection", "Content-Length", "Transfer-Encoding":
				default:
					r.Header.Add(kv[0], kv[1])
				}
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != rec.Status {
				t.Errorf("status %d, oslo %d", w.Code, rec.Status)
			}
			var names []string
			for k := range w.Header() {
				switch k := strings.ToLower(k); k {
				case "content-length", "connection":
				default:
					names = append(names, k)
				}
			}
			sort.Strings(names)
			if !slices.Equal(names, rec.HeaderNames) {
				t.Errorf("header names %v, oslo %v", names, rec.HeaderNames)
			}
			for k, raw := range rec.Headers {
				var want string
				if err := json.Unmarshal(raw, &want); err != nil {
					t.Fatalf("header %s: %s", k, raw)
				}
				got := strings.Join(w.Header().Values(k), ", ")
				if want == "req-<uuid#1>" {
					if !reqID.MatchString(got) {
						t.Errorf("%s: %q is not a fresh request id", k, got)
					}
					continue
				}
				if got != want {
					t.Errorf("%s: %q, oslo %q", k, got, want)
				}
			}
		})
	}
}

// echo reads the body like a WebOb app (serving a filter's body error) and
// answers 200 JSON.
func echo(w http.ResponseWriter, r *http.Request) {
	if _, err := io.ReadAll(r.Body); err != nil {
		if h, ok := err.(http.Handler); ok {
			h.ServeHTTP(w, r)
			return
		}
		http.Error(w, "read error", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{}`))
}
