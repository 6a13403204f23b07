package text

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vietstack/vietstack-api/pipeline"
)

func TestTextAnswers(t *testing.T) {
	tests := []struct {
		name    string
		o       Options
		method  string
		code    int
		body    string
		headers http.Header
	}{
		{"defaults", Options{Body: "hi"}, "GET", 200, "hi",
			http.Header{"Content-Type": {"text/plain; charset=UTF-8"}, "Content-Length": {"2"}}},
		{"status with reason", Options{Status: "404 Not Found", Body: "no such resource"}, "GET", 404, "no such resource",
			http.Header{"Content-Type": {"text/plain; charset=UTF-8"}, "Content-Length": {"16"}}},
		{"bare code", Options{Status: "503"}, "GET", 503, "",
			http.Header{"Content-Type": {"text/plain; charset=UTF-8"}, "Content-Length": {"0"}}},
		{"json and extra headers in order", Options{Body: `{"a":1}`, ContentType: "application/json",
			Headers: "X-Openstack-Request-Id: req-1 | Vary: Accept | Vary: Origin"}, "GET", 200, `{"a":1}`,
			http.Header{"Content-Type": {"application/json"}, "Content-Length": {"7"},
				"X-Openstack-Request-Id": {"req-1"}, "Vary": {"Accept", "Origin"}}},
		{"HEAD has no body", Options{Body: "preset"}, "HEAD", 200, "",
			http.Header{"Content-Type": {"text/plain; charset=UTF-8"}, "Content-Length": {"6"}}},
		{"204", Options{Status: "204 No Content"}, "GET", 204, "",
			http.Header{"Content-Type": {"text/plain; charset=UTF-8"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.o.ContentType == "" {
				tt.o.ContentType = "text/plain; charset=UTF-8"
			}
			h, err := New(tt.o)
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(h)
			defer srv.Close()
			req, _ := http.NewRequest(tt.method, srv.URL+"/x", strings.NewReader("request body"))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.code || string(b) != tt.body {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, b, tt.code, tt.body)
			}
			got := http.Header{}
			for k := range tt.headers {
				got[k] = resp.Header.Values(k)
			}
			if tt.method == "HEAD" {
				got["Content-Length"] = []string{resp.Header.Get("Content-Length")}
			}
			if tt.code == 204 && resp.Header.Get("Content-Length") != "" {
				t.Errorf("204 with Content-Length %q", resp.Header.Get("Content-Length"))
			}
			if diff := cmp.Diff(tt.headers, got); diff != "" {
				t.Errorf("headers (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTextBadOptions(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"non-numeric status", Options{Status: "OK"}, "status"},
		{"two-digit status", Options{Status: "20 OK"}, "status"},
		{"1xx status", Options{Status: "100 Continue"}, "status"},
		{"204 with body", Options{Status: "204", Body: "x"}, "cannot carry a body"},
		{"header without colon", Options{Headers: "X-A value"}, "bad item"},
		{"header bad name", Options{Headers: "X A: v"}, "not a valid header name"},
		{"header control char", Options{Headers: "X-A: a\x01b"}, "control character"},
		{"framing header", Options{Headers: "content-length: 5"}, "set by the server"},
		{"negative max", Options{MaxBodySize: -1}, "max_body_size"},
	}
	for _, tt := range tests {
		if _, err := New(tt.o); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

func TestTextBodyReadError(t *testing.T) {
	h, err := New(Options{Body: "x", MaxBodySize: 3})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/", strings.NewReader("1234")))
	if w.Code != 413 {
		t.Errorf("over-long body: %d, want 413", w.Code)
	}
}

func TestFactory(t *testing.T) {
	c := &pipeline.Config{Name: "app:versions", Local: map[string]string{
		"body": `{"versions": []}`, "content_type": "application/json", "status": "300 Multiple Choices"}}
	h, err := Factory(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != 300 || w.Header().Get("Content-Type") != "application/json" || w.Body.String() != `{"versions": []}` {
		t.Errorf("got %d %v %q", w.Code, w.Header(), w.Body.String())
	}
	for _, local := range []map[string]string{{"stauts": "200"}, {"status": "abc"}, {"headers": "nocolon"}} {
		_, err := Factory(context.Background(), &pipeline.Config{Name: "app:t", Local: local})
		if err == nil || !strings.Contains(err.Error(), "[app:t]") {
			t.Errorf("%v: %v, want an error naming the section", local, err)
		}
	}
}
