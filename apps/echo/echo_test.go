package echo

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/vietstack/vietstack-api/pipeline"
)

func TestText(t *testing.T) {
	// Expectations computed with Python: bytes.decode("utf-8", "replace").
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"ok\xc3\xa9", "oké"},
		{"caf\xc3", "caf\uFFFD"},
		{"\xff\xfe", "\uFFFD\uFFFD"},
		{"a\xe2\x82b", "a\uFFFDb"},
		{"\xf0\x9f\x98", "\uFFFD"},
		{"\xed\xa0\x80", "\uFFFD\uFFFD\uFFFD"},
		{"\xe0\x80\x80", "\uFFFD\uFFFD\uFFFD"},
		{"\xf4\x90\x80\x80", "\uFFFD\uFFFD\uFFFD\uFFFD"},
		{"\xc0\xaf", "\uFFFD\uFFFD"},
	}
	for _, tt := range tests {
		if got := Text(tt.in); got != tt.want {
			t.Errorf("Text(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// withState runs echo behind pipeline.Root, with a filter that sets the
// script name and request ids the way urlmap and request_id would.
func withState(h http.Handler, script, rid, grid string) http.Handler {
	return pipeline.Root(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := pipeline.RequestFrom(r)
		st.ScriptName = script
		st.RequestID = rid
		st.GlobalRequestID = grid
		h.ServeHTTP(w, r)
	}))
}

func mustNew(t *testing.T, o Options) http.Handler {
	t.Helper()
	h, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func str(s string) *string { return &s }

const emptySHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// rawRequest sends raw on a fresh connection to srv and returns the
// response.
func rawRequest(t *testing.T, srv *httptest.Server, raw string) *http.Response {
	t.Helper()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(strings.Fields(raw)[0], "/", nil)
	resp, err := http.ReadResponse(newReader(c), req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestEchoContract(t *testing.T) {
	srv := httptest.NewServer(withState(mustNew(t, Options{Name: "v2"}), "/v2", "req-1", ""))
	defer srv.Close()

	tests := []struct {
		name string
		raw  string
		want Doc
	}{
		{
			name: "query and decoded path",
			raw:  "GET /a%20b/c%2Fd?x=1&y=%20z&flag HTTP/1.1\r\nHost: api.example.test\r\nConnection: close\r\n\r\n",
			want: Doc{Method: "GET", PathInfo: "/a b/c/d", QueryString: "x=1&y=%20z&flag",
				Host: str("api.example.test"), ApplicationURL: "http://api.example.test/v2",
				BodySHA256: emptySHA, Headers: map[string]string{}},
		},
		{
			name: "invalid utf-8 path",
			raw:  "GET /caf%C3 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
			want: Doc{Method: "GET", PathInfo: "/caf\uFFFD", Host: str("h"), ApplicationURL: "http://h/v2",
				BodySHA256: emptySHA, Headers: map[string]string{}},
		},
		{
			name: "post with body",
			raw: "POST /things HTTP/1.1\r\nHost: h:8080\r\nContent-Type: application/json\r\nContent-Length: 13\r\n" +
				"Connection: close\r\n\r\n{\"name\": \"x\"}",
			want: Doc{Method: "POST", PathInfo: "/things", Host: str("h:8080"), ApplicationURL: "http://h:8080/v2",
				ContentType: str("application/json"), ContentLength: str("13"), BodyLength: 13,
				BodySHA256: "edb9eed7f06ccf0bb0db254de3ed3a246d5d4a8ba94b0701ce527de6adca3328",
				Headers:    map[string]string{}},
		},
		{
			name: "chunked body",
			raw: "PUT /t HTTP/1.1\r\nHost: h:80\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
				"5\r\nhello\r\n1\r\n!\r\n0\r\n\r\n",
			want: Doc{Method: "PUT", PathInfo: "/t", Host: str("h:80"), ApplicationURL: "http://h/v2",
				BodyLength: 6, BodySHA256: "ce06092fb948d9ffac7d1a376e404b26b7575bcc11ee05a4615fef4fec3a308b",
				Headers: map[string]string{}},
		},
		{
			// X_Roles never arrives: the pipeline root drops '_' names.
			name: "headers: duplicates, case, underscores, hop-by-hop",
			raw: "GET / HTTP/1.1\r\nHost: h\r\nX-Dup: a\r\nX-Dup:  b \r\nx-AUTH-token: tok\r\nX_Roles: admin\r\n" +
				"Keep-Alive: 5\r\nTE: trailers\r\nConnection: close\r\n\r\n",
			want: Doc{Method: "GET", PathInfo: "/", Host: str("h"), ApplicationURL: "http://h/v2",
				BodySHA256: emptySHA,
				Headers:    map[string]string{"x-dup": "a,b", "x-auth-token": "tok"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := rawRequest(t, srv, tt.raw)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var got Doc
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Fatal(err)
			}
			want := tt.want
			want.App, want.Name, want.ScriptName, want.URLScheme = "echo", "v2", "/v2", "http"
			want.RemoteAddr, want.RequestID = "127.0.0.1", str("req-1")
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("doc (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEchoHeadAndHTTP10(t *testing.T) {
	srv := httptest.NewServer(mustNew(t, Options{Name: "echo"}))
	defer srv.Close()
	resp := rawRequest(t, srv, "HEAD / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || len(b) != 0 || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("HEAD: %d %q %v", resp.StatusCode, b, resp.Header)
	}
	resp = rawRequest(t, srv, "GET /x HTTP/1.0\r\n\r\n")
	var d Doc
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	// No Host: null, and application_url falls back to the server address.
	if d.Host != nil || d.ApplicationURL != "http://"+srv.Listener.Addr().String() || d.RequestID != nil {
		t.Errorf("HTTP/1.0 without Host: %+v", d)
	}
}

// handlerError is a body-read error that answers the request itself.
type handlerError struct{}

func (handlerError) Error() string { return "too large" }
func (handlerError) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "from the filter", http.StatusTeapot)
}

type failingBody struct{ err error }

func (b failingBody) Read([]byte) (int, error) { return 0, b.err }
func (b failingBody) Close() error             { return nil }

func TestEchoBodyErrors(t *testing.T) {
	tests := []struct {
		name string
		max  pipeline.ByteSize
		body io.ReadCloser
		code int
		text string
	}{
		{"handler error answers", 0, failingBody{handlerError{}}, http.StatusTeapot, "from the filter"},
		{"wrapped handler error answers", 0, failingBody{errors.Join(errors.New("x"), handlerError{})}, http.StatusTeapot, "from the filter"},
		{"MaxBytesError is 413", 0, failingBody{&http.MaxBytesError{Limit: 3}}, 413, "Request body too large"},
		{"other error is 400", 0, failingBody{io.ErrUnexpectedEOF}, 400, "Could not read the request body"},
		{"over max_body_size is 413", 4, io.NopCloser(strings.NewReader("12345")), 413, "Request body too large"},
		{"at max_body_size passes", 5, io.NopCloser(strings.NewReader("12345")), 200, `"body_length": 5`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := mustNew(t, Options{MaxBodySize: tt.max})
			r := httptest.NewRequest("POST", "/", nil)
			r.Body = tt.body
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.code || !strings.Contains(w.Body.String(), tt.text) {
				t.Errorf("got %d %q, want %d containing %q", w.Code, w.Body.String(), tt.code, tt.text)
			}
		})
	}
}

func TestEchoRemoteAddr(t *testing.T) {
	h := mustNew(t, Options{})
	tests := []struct{ peer, derived, want string }{
		{"127.0.0.1:5555", "", "127.0.0.1"},
		{"[::1]:5555", "", "::1"},
		{"127.0.0.1:5555", "203.0.113.7, 198.51.100.2", "203.0.113.7, 198.51.100.2"},
	}
	for _, tt := range tests {
		var hh http.Handler = h
		if tt.derived != "" {
			hh = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				pipeline.RequestFrom(r).RemoteAddr = tt.derived
				h.ServeHTTP(w, r)
			})
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.peer
		w := httptest.NewRecorder()
		pipeline.Root(hh).ServeHTTP(w, r)
		var d Doc
		if err := json.Unmarshal(w.Body.Bytes(), &d); err != nil {
			t.Fatal(err)
		}
		if d.RemoteAddr != tt.want {
			t.Errorf("peer %q derived %q: remote_addr %q, want %q", tt.peer, tt.derived, d.RemoteAddr, tt.want)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	if _, err := New(Options{MaxBodySize: -1}); err == nil {
		t.Error("negative max_body_size accepted")
	}
}

func newReader(c net.Conn) *bufio.Reader { return bufio.NewReader(c) }

func TestFactory(t *testing.T) {
	h, err := Factory(context.Background(), &pipeline.Config{Name: "app:v2", Local: map[string]string{"name": "v2", "max_body_size": "1KiB"}})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/", strings.NewReader(strings.Repeat("x", 1025))))
	if w.Code != 413 {
		t.Errorf("max_body_size 1KiB: %d", w.Code)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if !strings.Contains(w.Body.String(), `"name": "v2"`) {
		t.Errorf("name option: %s", w.Body.String())
	}
	for _, local := range []map[string]string{{"nmae": "x"}, {"max_body_size": "0"}, {"max_body_size": "lots"}} {
		if _, err := Factory(context.Background(), &pipeline.Config{Name: "app:echo", Local: local}); err == nil {
			t.Errorf("%v accepted", local)
		}
	}
}

func FuzzText(f *testing.F) {
	for _, s := range []string{"", "plain", "caf\xc3", "\xed\xa0\x80", "\xf4\x90\x80\x80", "ok\xc3\xa9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Text(s)
		if !utf8.ValidString(got) {
			t.Fatalf("Text(%q) = %q is not UTF-8", s, got)
		}
		if utf8.ValidString(s) && got != s {
			t.Fatalf("Text changed valid text %q to %q", s, got)
		}
		// Every valid rune of s survives, in order.
		if want := strings.Map(func(r rune) rune {
			if r == utf8.RuneError {
				return -1
			}
			return r
		}, strings.ToValidUTF8(s, "")); want != strings.ReplaceAll(got, "\uFFFD", "") && !strings.Contains(s, "\uFFFD") {
			t.Fatalf("Text(%q) = %q lost or invented text (want %q without replacements)", s, got, want)
		}
	})
}
