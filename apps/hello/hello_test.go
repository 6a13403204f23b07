package hello

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/vietstack/vietstack-api/pipeline"
)

func TestHandler(t *testing.T) {
	tests := []struct {
		name       string
		message    string
		method     string
		path       string
		wantStatus int
		wantBody   string
		wantAllow  string
	}{
		{"get default", DefaultMessage, http.MethodGet, "/", 200, DefaultMessage, ""},
		{"get any path", DefaultMessage, http.MethodGet, "/v2.1/servers?x=1", 200, DefaultMessage, ""},
		{"head has no body", DefaultMessage, http.MethodHead, "/", 200, "", ""},
		{"custom message", "xin chào", http.MethodGet, "/", 200, "xin chào", ""},
		{"empty message", "", http.MethodGet, "/", 200, "", ""},
		{"post", DefaultMessage, http.MethodPost, "/", 405, string(notAllowed), "GET, HEAD"},
		{"put", DefaultMessage, http.MethodPut, "/", 405, string(notAllowed), "GET, HEAD"},
		{"delete", DefaultMessage, http.MethodDelete, "/x", 405, string(notAllowed), "GET, HEAD"},
		{"options", DefaultMessage, http.MethodOptions, "/", 405, string(notAllowed), "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := New(tt.message)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			res := rec.Result()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d", res.StatusCode, tt.wantStatus)
			}
			if string(body) != tt.wantBody {
				t.Errorf("body = %q, want %q", body, tt.wantBody)
			}
			if got := res.Header.Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow = %q, want %q", got, tt.wantAllow)
			}
			if got := res.Header.Get("Content-Type"); got != "text/plain; charset=utf-8" {
				t.Errorf("Content-Type = %q", got)
			}
			wantLen := len(tt.wantBody)
			if tt.method == http.MethodHead {
				wantLen = len(tt.message)
			}
			if got := res.Header.Get("Content-Length"); got != strconv.Itoa(wantLen) {
				t.Errorf("Content-Length = %q, want %d", got, wantLen)
			}
		})
	}
}

// TestRealServer checks the answer through a real HTTP server and client,
// where net/http enforces Content-Length and HEAD semantics.
func TestRealServer(t *testing.T) {
	srv := httptest.NewServer(New(DefaultMessage))
	defer srv.Close()
	res, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || string(body) != DefaultMessage || res.StatusCode != 200 {
		t.Fatalf("GET: %d %q %v", res.StatusCode, body, err)
	}
	res, err = http.Post(srv.URL+"/", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 405 || res.Header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("POST: %d Allow=%q", res.StatusCode, res.Header.Get("Allow"))
	}
}

func TestDefaultMessageSpelling(t *testing.T) {
	// The seed's text, spelling kept: "Wellcome", not "Welcome".
	if DefaultMessage != "From VietStack: Wellcome the 8th Meetup of VietOpenStack" {
		t.Fatalf("DefaultMessage = %q", DefaultMessage)
	}
	docs := pipeline.OptionDocs(Options{})
	if len(docs) > 0 && docs[0].Default != DefaultMessage {
		t.Errorf("option default = %q, want DefaultMessage", docs[0].Default)
	}
}

func TestFactory(t *testing.T) {
	tests := []struct {
		name    string
		local   map[string]string
		want    string
		wantErr string
	}{
		{"default", map[string]string{}, DefaultMessage, ""},
		{"message", map[string]string{"message": "hi"}, "hi", ""},
		{"unknown option", map[string]string{"mesage": "hi"}, "", "mesage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &pipeline.Config{Name: "app:hello", Factory: "egg:vietstack#hello", Local: tt.local, Global: map[string]string{}}
			h, err := Factory(context.Background(), c)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			if rec.Body.String() != tt.want {
				t.Errorf("body = %q, want %q", rec.Body.String(), tt.want)
			}
		})
	}
}

func TestRegister(t *testing.T) {
	reg := pipeline.NewRegistry()
	Register(reg)
	f, ok := reg.Lookup("egg:vietstack#hello")
	if !ok || f.Kind != pipeline.KindApp || f.App == nil {
		t.Fatalf("Lookup(egg:vietstack#hello) = %+v, %v", f, ok)
	}
}

func BenchmarkHello(b *testing.B) {
	h := New(DefaultMessage)
	r := httptest.NewRequest("GET", "/", nil)
	w := httptest.NewRecorder()
	for b.Loop() {
		w.Body.Reset()
		h.ServeHTTP(w, r)
	}
}
