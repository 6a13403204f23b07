package proxy_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vietstack/vietstack-api/apps/proxy"
	"github.com/vietstack/vietstack-api/filters/proxyheaders"
	"github.com/vietstack/vietstack-api/pipeline"
	"github.com/vietstack/vietstack-api/pipeline/paste"
)

// seen is what the backend recorded about one request.
type seen struct {
	RequestURI string
	Path       string
	Host       string
	Header     http.Header
	Trailer    http.Header
	BodySHA    string
	BodyLen    int64
}

// backend is a loopback Go test server that records requests and offers
// a few behaviours by path.
type backend struct {
	srv      *httptest.Server
	mu       sync.Mutex
	last     []seen
	upgrades atomic.Int64
	release  chan struct{}
}

func newBackend(t *testing.T, tlsOn bool) *backend {
	return newBackendHook(t, tlsOn, nil)
}

func newBackendHook(t *testing.T, tlsOn bool, cs func(net.Conn, http.ConnState)) *backend {
	t.Helper()
	b := &backend{release: make(chan struct{})}
	b.srv = httptest.NewUnstartedServer(http.HandlerFunc(b.serve))
	b.srv.Config.ConnState = cs
	if tlsOn {
		b.srv.StartTLS()
	} else {
		b.srv.Start()
	}
	t.Cleanup(func() {
		select {
		case <-b.release:
		default:
			close(b.release)
		}
		b.srv.CloseClientConnections()
		b.srv.Close()
	})
	return b
}

func (b *backend) lastSeen(t *testing.T) seen {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.last) == 0 {
		t.Fatal("backend saw no request")
	}
	return b.last[len(b.last)-1]
}

func (b *backend) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.last)
}

func (b *backend) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Upgrade") != "" {
		b.upgrades.Add(1)
	}
	hs := sha256.New()
	n, _ := io.Copy(hs, r.Body)
	s := seen{RequestURI: r.RequestURI, Path: r.URL.Path, Host: r.Host, Header: r.Header.Clone(),
		Trailer: r.Trailer.Clone(), BodySHA: hex.EncodeToString(hs.Sum(nil)), BodyLen: n}
	b.mu.Lock()
	b.last = append(b.last, s)
	b.mu.Unlock()
	switch {
	case strings.HasSuffix(r.URL.Path, "/slow"):
		select {
		case <-b.release:
		case <-r.Context().Done():
		}
		return
	case strings.HasSuffix(r.URL.Path, "/reset"):
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			conn.Close()
		}
		return
	case strings.HasSuffix(r.URL.Path, "/stream"):
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(200)
		io.WriteString(w, "first\n")
		http.NewResponseController(w).Flush()
		select {
		case <-b.release:
		case <-time.After(10 * time.Second):
		}
		io.WriteString(w, "second\n")
		return
	case strings.HasSuffix(r.URL.Path, "/big"):
		w.Header().Set("Content-Type", "application/octet-stream")
		buf := make([]byte, 1<<20)
		for i := range buf {
			buf[i] = byte(i * 7)
		}
		for range 32 {
			w.Write(buf)
		}
		return
	case strings.HasSuffix(r.URL.Path, "/bigjson"):
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"servers": [`+strings.Repeat(`{"id": "0123456789abcdef", "name": "vm"}, `, 200)+`{}]}`)
		return
	case strings.HasSuffix(r.URL.Path, "/ws") && strings.EqualFold(r.Header.Get("Upgrade"), "websocket"):
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
		brw.Flush()
		line, _ := brw.ReadString('\n')
		brw.WriteString("echo:" + line)
		brw.Flush()
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Openstack-Request-Id", "req-11111111-1111-4111-8111-111111111111")
	json.NewEncoder(w).Encode(s)
}

// setIdentity is a test filter standing in for an auth filter: it sets the
// identity and request id headers on the inbound request.
func setIdentity(ctx context.Context, c *pipeline.Config) (pipeline.Middleware, error) {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Header.Set("X-Roles", "reader")
			r.Header.Set("X-Project-Id", "p-123")
			r.Header.Set("X-Openstack-Request-Id", "req-00000000-0000-4000-8000-000000000000")
			next.ServeHTTP(w, r)
		})
	}, nil
}

// front builds ini (with %(backend)s replaced) through the real loader and
// composer and serves it on loopback.
func front(t *testing.T, ini string, backendURL string) *httptest.Server {
	t.Helper()
	return frontWith(t, ini, backendURL)
}

// frontWith is front with more factories registered.
func frontWith(t *testing.T, ini string, backendURL string, more ...func(*pipeline.Registry)) *httptest.Server {
	t.Helper()
	ini = strings.ReplaceAll(ini, "BACKEND", backendURL)
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.ini")
	if err := os.WriteFile(path, []byte(ini), 0o644); err != nil {
		t.Fatal(err)
	}
	g, err := paste.Load(path, paste.Options{})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	reg := pipeline.NewRegistry()
	proxy.Register(reg)
	reg.Filter("setid", setIdentity, pipeline.Info{Doc: "test"})
	for _, r := range more {
		r(reg)
	}
	gen, err := pipeline.Build(context.Background(), g, pipeline.BuildOptions{Registry: reg})
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	srv := httptest.NewServer(gen.Handler)
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		gen.Close()
	})
	return srv
}

const routedIni = `
[composite:main]
use = egg:Paste#urlmap
/v2 = api
/ = root

[pipeline:api]
pipeline = setid backend

[filter:setid]
use = egg:vietstack#setid

[app:backend]
use = egg:vietstack#proxy
url = BACKEND/base
response_header_timeout = 1s

[app:root]
use = egg:vietstack#proxy
url = BACKEND
response_header_timeout = 1s
`

// raw sends one raw HTTP/1.1 request to addr and returns the response.
func raw(t *testing.T, addr, req string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, body
}

func get(target string) string {
	return "GET " + target + " HTTP/1.1\r\nHost: api.example\r\nConnection: close\r\n\r\n"
}

func TestRoutedPathIsForwardedPath(t *testing.T) {
	be := newBackend(t, false)
	fe := front(t, routedIni, be.srv.URL)
	addr := fe.Listener.Addr().String()
	tests := []struct {
		target  string
		status  int
		wantURI string // what the backend saw on the wire
	}{
		{"/v2/servers", 200, "/base/v2/servers"},
		{"/v2", 200, "/base/v2"},
		{"/v2/", 200, "/base/v2/"},
		{"/v2/servers?limit=1&name=a%20b", 200, "/base/v2/servers?limit=1&name=a%20b"},
		{"/v2/a%2fb", 200, "/base/v2/a%2fb"},
		{"/v2%2fadmin/x", 200, "/base/v2/admin/x"},
		{"/v2%2Fadmin", 200, "/base/v2/admin"},
		{"/v2//x", 200, "/base/v2/x"},
		{"//v2/x", 200, "/base/v2/x"},
		{"/v2/a%20b/caf%C3%A9", 200, "/base/v2/a%20b/caf%C3%A9"},
		{"/v2/%2e%2e/admin", 400, ""},
		{"/v2/%2E%2E/admin", 400, ""},
		{"/v2/../admin", 400, ""},
		{"/v2/./x", 400, ""},
		{"/v2/%2e/x", 400, ""},
		{"/v2/x/..", 400, ""},
		{"/v2/..%2fadmin", 400, ""},
		{"/other/thing", 200, "/other/thing"},
		{"/", 200, "/"},
		{"/x/%2e%2e", 400, ""},
		{"/v2/.well-known", 200, "/base/v2/.well-known"},
		{"/v2/...", 200, "/base/v2/..."},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			before := be.count()
			resp, body := raw(t, addr, get(tt.target))
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tt.status, body)
			}
			if tt.status != 200 {
				if be.count() != before {
					t.Errorf("backend was called for a refused path")
				}
				if !json.Valid(body) || !bytes.Contains(body, []byte(`"code": 400`)) {
					t.Errorf("body %q is not the JSON fault", body)
				}
				return
			}
			s := be.lastSeen(t)
			if s.RequestURI != tt.wantURI {
				t.Errorf("backend saw %q, want %q", s.RequestURI, tt.wantURI)
			}
		})
	}
}

func TestForwardedHeadersAreOurs(t *testing.T) {
	be := newBackend(t, false)
	fe := front(t, routedIni, be.srv.URL)
	req := "GET /v2/x HTTP/1.1\r\nHost: api.example:8774\r\n" +
		"X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.example\r\n" +
		"Forwarded: for=8.8.8.8;proto=https\r\nX_Forwarded_For: 7.7.7.7\r\nX-Real-IP: 9.9.9.9\r\n" +
		"X-Forwarded-Prefix: /admin\r\nX-Forwarded-Port: 443\r\nX_Roles: admin\r\nX-Custom: kept\r\n" +
		"Connection: close\r\n\r\n"
	resp, body := raw(t, fe.Listener.Addr().String(), req)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	s := be.lastSeen(t)
	want := map[string]string{
		"X-Forwarded-For":   "127.0.0.1",
		"X-Forwarded-Proto": "http",
		"X-Forwarded-Host":  "api.example:8774",
		"X-Custom":          "kept",
		"X-Roles":           "reader",
	}
	for k, v := range want {
		if got := s.Header.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want [%q]", k, got, v)
		}
	}
	for _, k := range []string{"Forwarded", "X_Forwarded_For", "X-Real-Ip", "X-Forwarded-Prefix", "X-Forwarded-Port", "X_Roles"} {
		if v, ok := s.Header[k]; ok {
			t.Errorf("%s reached the backend: %q", k, v)
		}
	}
	if !strings.HasPrefix(s.Host, "127.0.0.1:") {
		t.Errorf("backend Host = %q, want the backend's own host", s.Host)
	}
}

func TestConnectionCannotDeleteProtectedHeaders(t *testing.T) {
	be := newBackend(t, false)
	fe := front(t, routedIni, be.srv.URL)
	req := "GET /v2/x HTTP/1.1\r\nHost: api.example\r\nX-Custom: gone\r\nX-Other: stays\r\n" +
		"Connection: close, X-Roles, X-Project-Id, X-Openstack-Request-Id, X-Forwarded-For, X-Custom\r\n\r\n"
	resp, body := raw(t, fe.Listener.Addr().String(), req)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	s := be.lastSeen(t)
	for k, v := range map[string]string{
		"X-Roles": "reader", "X-Project-Id": "p-123",
		"X-Openstack-Request-Id": "req-00000000-0000-4000-8000-000000000000",
		"X-Forwarded-For":        "127.0.0.1", "X-Other": "stays",
	} {
		if got := s.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if v, ok := s.Header["X-Custom"]; ok {
		t.Errorf("a Connection-named unprotected header is hop-by-hop and must go, got %q", v)
	}
}

func TestH2CUpgradeAndTrailersNeverForwarded(t *testing.T) {
	be := newBackend(t, false)
	fe := front(t, routedIni, be.srv.URL)
	addr := fe.Listener.Addr().String()
	h2c := "GET /v2/x HTTP/1.1\r\nHost: api.example\r\nConnection: Upgrade, HTTP2-Settings\r\n" +
		"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"
	resp, body := raw(t, addr, h2c)
	if resp.StatusCode != 200 {
		t.Fatalf("h2c request: status %d: %s", resp.StatusCode, body)
	}
	s := be.lastSeen(t)
	for _, k := range []string{"Upgrade", "Http2-Settings", "Connection"} {
		if v, ok := s.Header[k]; ok {
			t.Errorf("%s reached the backend: %q", k, v)
		}
	}
	// HTTP2-Settings not named in Connection, and a websocket upgrade
	// with websockets disabled.
	resp, _ = raw(t, addr, "GET /v2/ws HTTP/1.1\r\nHost: a\r\nHTTP2-Settings: AAMA\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	if resp.StatusCode != 200 {
		t.Errorf("websocket (disabled): status %d, want 200 from the plain backend answer", resp.StatusCode)
	}
	if n := be.upgrades.Load(); n != 0 {
		t.Errorf("backend saw %d upgrade requests, want 0", n)
	}
	if v, ok := be.lastSeen(t).Header["Http2-Settings"]; ok {
		t.Errorf("HTTP2-Settings reached the backend: %q", v)
	}

	// Trailers: chunked body with a trailer section.
	chunked := "POST /v2/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: X-Smuggle\r\nTE: trailers\r\nConnection: close\r\n\r\n" +
		"5\r\nhello\r\n0\r\nX-Smuggle: yes\r\nContent-Length: 99\r\n\r\n"
	resp, body = raw(t, addr, chunked)
	if resp.StatusCode != 200 {
		t.Fatalf("chunked: status %d: %s", resp.StatusCode, body)
	}
	s = be.lastSeen(t)
	if len(s.Trailer) != 0 || s.Header.Get("Trailer") != "" || s.Header.Get("X-Smuggle") != "" {
		t.Errorf("trailers reached the backend: trailer %v, header Trailer %q", s.Trailer, s.Header.Get("Trailer"))
	}
	if s.BodyLen != 5 {
		t.Errorf("body length %d, want 5", s.BodyLen)
	}
}

func TestWebSocketWhenEnabled(t *testing.T) {
	be := newBackend(t, false)
	fe := front(t, `
[app:main]
use = egg:vietstack#proxy
url = BACKEND
websocket = true
`, be.srv.URL)
	conn, err := net.Dial("tcp", fe.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(conn, "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 {
		t.Fatalf("status %d, want 101", resp.StatusCode)
	}
	io.WriteString(conn, "ping\n")
	line, err := br.ReadString('\n')
	if err != nil || line != "echo:ping\n" {
		t.Fatalf("upgraded stream: %q, %v", line, err)
	}
	// h2c is still refused with websockets on.
	resp2, _ := raw(t, fe.Listener.Addr().String(), "GET /x HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
	if resp2.StatusCode != 200 || be.upgrades.Load() != 1 {
		t.Errorf("h2c with websocket on: status %d, backend upgrades %d (want 200, 1)", resp2.StatusCode, be.upgrades.Load())
	}
}

func checkFault(t *testing.T, body []byte, code int, backendAddr string) {
	t.Helper()
	var f struct {
		Error struct {
			Code    int    `json:"code"`
			Title   string `json:"title"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &f); err != nil || f.Error.Code != code {
		t.Errorf("fault body %q: %v (want code %d)", body, err, code)
	}
	host, port, _ := net.SplitHostPort(backendAddr)
	if bytes.Contains(body, []byte(host)) || bytes.Contains(body, []byte(port)) || bytes.Contains(body, []byte("dial")) {
		t.Errorf("fault body leaks the backend: %q", body)
	}
}

func TestBackendDownSlowReset(t *testing.T) {
	baseline := runtime.NumGoroutine()
	defer func() {
		// T5: goroutines back to baseline once fronts and transports are
		// closed.
		deadline := time.Now().Add(3 * time.Second)
		for runtime.NumGoroutine() > baseline+3 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > baseline+3 {
			t.Errorf("%d goroutines after the failures, baseline %d", n, baseline)
		}
	}()
	// A port with nothing listening.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downAddr := ln.Addr().String()
	ln.Close()
	be := newBackend(t, false)

	t.Run("down", func(t *testing.T) {
		fe := front(t, routedIni, "http://"+downAddr)
		start := time.Now()
		resp, body := raw(t, fe.Listener.Addr().String(), get("/v2/x"))
		if resp.StatusCode != 502 {
			t.Fatalf("status %d, want 502", resp.StatusCode)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("502 took %v, want < 1s", d)
		}
		checkFault(t, body, 502, downAddr)
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
	})
	t.Run("slow", func(t *testing.T) {
		fe := front(t, routedIni, be.srv.URL)
		start := time.Now()
		resp, body := raw(t, fe.Listener.Addr().String(), get("/v2/slow"))
		d := time.Since(start)
		if resp.StatusCode != 504 {
			t.Fatalf("status %d, want 504", resp.StatusCode)
		}
		if d < 900*time.Millisecond || d > 3*time.Second {
			t.Errorf("504 after %v, want about response_header_timeout (1s)", d)
		}
		checkFault(t, body, 504, be.srv.Listener.Addr().String())
	})
	t.Run("reset", func(t *testing.T) {
		fe := front(t, routedIni, be.srv.URL)
		resp, body := raw(t, fe.Listener.Addr().String(), get("/v2/reset"))
		if resp.StatusCode != 502 {
			t.Fatalf("status %d, want 502", resp.StatusCode)
		}
		checkFault(t, body, 502, be.srv.Listener.Addr().String())
	})
}

func TestEnvironmentProxyIgnored(t *testing.T) {
	t.Setenv("HTTP_PROXY", "http://127.0.0.1:1")
	t.Setenv("http_proxy", "http://127.0.0.1:1")
	be := newBackend(t, false)
	fe := front(t, routedIni, be.srv.URL)
	resp, body := raw(t, fe.Listener.Addr().String(), get("/v2/x"))
	if resp.StatusCode != 200 {
		t.Fatalf("status %d with HTTP_PROXY set: %s", resp.StatusCode, body)
	}
}

func TestTransportBounds(t *testing.T) {
	p, err := proxy.New(proxy.Options{URL: "http://127.0.0.1:1", DialTimeout: time.Second,
		TLSHandshakeTimeout: time.Second, ResponseHeaderTimeout: time.Second, IdleConnTimeout: time.Second,
		MaxIdleConns: 4, MaxConnsPerHost: 8, MaxResponseHeader: 1 << 16}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	tr := p.Transport()
	if tr.Proxy != nil {
		t.Error("transport Proxy is set without http_proxy")
	}
	if tr.ResponseHeaderTimeout <= 0 || tr.TLSHandshakeTimeout <= 0 || tr.IdleConnTimeout <= 0 {
		t.Error("a transport timeout is unbounded")
	}
	if tr.MaxConnsPerHost != 8 || tr.MaxIdleConnsPerHost != 4 || tr.MaxResponseHeaderBytes != 1<<16 {
		t.Errorf("pool bounds %d/%d/%d", tr.MaxConnsPerHost, tr.MaxIdleConnsPerHost, tr.MaxResponseHeaderBytes)
	}
	if !tr.DisableCompression {
		t.Error("transport would add Accept-Encoding and decompress")
	}
}

func TestStreamingFlushes(t *testing.T) {
	be := newBackend(t, false)
	fe := front(t, routedIni, be.srv.URL)
	resp, err := http.Get(fe.URL + "/v2/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	got := make(chan string, 1)
	go func() {
		line, _ := br.ReadString('\n')
		got <- line
	}()
	select {
	case line := <-got:
		if line != "first\n" {
			t.Fatalf("first line %q", line)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the first chunk did not arrive before the backend finished: not flushed")
	}
	close(be.release)
	rest, _ := io.ReadAll(br)
	if string(rest) != "second\n" {
		t.Errorf("rest %q", rest)
	}
}

func TestLargeBodies(t *testing.T) {
	be := newBackend(t, false)
	fe := front(t, routedIni, be.srv.URL)
	up := make([]byte, 24<<20)
	rand.Read(up)
	sum := sha256.Sum256(up)
	for _, chunked := range []bool{false, true} {
		var body io.Reader = bytes.NewReader(up)
		if chunked {
			body = io.MultiReader(bytes.NewReader(up)) // unknown length
		}
		req, _ := http.NewRequest("PUT", fe.URL+"/v2/upload", body)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var s seen
		json.NewDecoder(resp.Body).Decode(&s)
		resp.Body.Close()
		if s.BodyLen != int64(len(up)) || s.BodySHA != hex.EncodeToString(sum[:]) {
			t.Errorf("chunked=%v: backend got %d bytes sha %s", chunked, s.BodyLen, s.BodySHA)
		}
	}
	resp, err := http.Get(fe.URL + "/v2/big")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	if err != nil || n != 32<<20 {
		t.Fatalf("downloaded %d bytes: %v", n, err)
	}
	want := sha256.New()
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	for range 32 {
		want.Write(buf)
	}
	if !bytes.Equal(h.Sum(nil), want.Sum(nil)) {
		t.Error("download corrupted")
	}
}

func TestTLSBackend(t *testing.T) {
	be := newBackend(t, true)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	cert := be.srv.Certificate()
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, extra string
		status      int
	}{
		{"system pool refuses the test CA", "", 502},
		{"cafile", "cafile = " + ca + "\nserver_name = example.com", 200},
		{"insecure", "insecure = true", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fe := front(t, "[app:main]\nuse = egg:vietstack#proxy\nurl = BACKEND\n"+tt.extra+"\n", be.srv.URL)
			resp, body := raw(t, fe.Listener.Addr().String(), get("/x"))
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
		})
	}
}

func TestOptionErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "x.pem")
	os.WriteFile(notPEM, []byte("nope"), 0o644)
	tests := []struct {
		body, want string
	}{
		{"", "url is required"},
		{"url = ftp://x", "scheme must be http or https"},
		{"url = http://u:p@x/", "without user info"},
		{"url = http://x\ncafile = " + filepath.Join(dir, "missing.pem"), "cafile"},
		{"url = http://x\ncafile = " + notPEM, "no PEM certificate"},
		{"url = http://x\nhttp_proxy = socks5://y", "http_proxy"},
		{"url = http://x\ndial_timeout = 0", "must be positive"},
		{"url = http://x\nwebsockets = true", `did you mean "websocket"`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			path := filepath.Join(dir, "p.ini")
			os.WriteFile(path, []byte("[app:main]\nuse = egg:vietstack#proxy\n"+tt.body+"\n"), 0o644)
			g, err := paste.Load(path, paste.Options{})
			if err != nil {
				t.Fatal(err)
			}
			reg := pipeline.NewRegistry()
			proxy.Register(reg)
			_, err = pipeline.Build(context.Background(), g, pipeline.BuildOptions{Registry: reg})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
			if !strings.Contains(err.Error(), "p.ini:") {
				t.Errorf("error %q has no position", err)
			}
		})
	}
}

func TestCloseReleasesIdleConnections(t *testing.T) {
	var open atomic.Int64
	be := newBackendHook(t, false, func(c net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			open.Add(1)
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	})
	p, err := proxy.New(proxy.Options{URL: be.srv.URL, DialTimeout: time.Second, TLSHandshakeTimeout: time.Second,
		ResponseHeaderTimeout: time.Second, IdleConnTimeout: time.Minute, MaxIdleConns: 4, MaxResponseHeader: 1 << 20}, nil)
	if err != nil {
		t.Fatal(err)
	}
	fe := httptest.NewServer(p)
	defer fe.Close()
	for range 3 {
		resp, err := http.Get(fe.URL + "/x")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if open.Load() == 0 {
		t.Fatal("no kept-alive backend connection")
	}
	p.Close()
	deadline := time.Now().Add(2 * time.Second)
	for open.Load() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := open.Load(); n != 0 {
		t.Errorf("%d backend connections still open after Close", n)
	}
}

func BenchmarkProxy(b *testing.B) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer be.Close()
	p, err := proxy.New(proxy.Options{URL: be.URL, DialTimeout: time.Second, TLSHandshakeTimeout: time.Second,
		ResponseHeaderTimeout: time.Second, IdleConnTimeout: time.Minute, MaxIdleConns: 8, MaxResponseHeader: 1 << 20}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	h := pipeline.Root(p)
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("GET", "/v2/servers?x=1", nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatal(w.Code, w.Body.String())
		}
	}
}

var _ = fmt.Sprint

// TestNoDesyncThroughProxy sends ambiguous framings, each followed by a
// plain request on the same connection, and checks that the backend never
// sees more requests than the front answered: the proxy adds no
// request boundary of its own. (Which framing the front server picks is the
// server's business: Go's prefers chunked over Content-Length and keeps the
// connection, so the "smuggled" request of framings 0 and 1 is answered by
// the front as a request of its own; behind a Content-Length-preferring
// proxy that is a desync the server must prevent by closing.)
func TestNoDesyncThroughProxy(t *testing.T) {
	be := newBackend(t, false)
	fe := front(t, routedIni, be.srv.URL)
	smuggled := "GET /v2/smuggled HTTP/1.1\r\nHost: a\r\n\r\n"
	framings := []string{
		// Content-Length and chunked together.
		"POST /v2/a HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled,
		"POST /v2/a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 60\r\n\r\n0\r\n\r\n" + smuggled,
		// Two Content-Lengths.
		"POST /v2/a HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 44\r\n\r\n" + smuggled,
		// Obfuscated Transfer-Encoding.
		"POST /v2/a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\nContent-Length: 44\r\n\r\n" + smuggled,
		"POST /v2/a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n" + smuggled,
		// Chunked on HTTP/1.0.
		"POST /v2/a HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n0\r\n\r\n" + smuggled,
		// A body hiding a request, with an honest length.
		"POST /v2/a HTTP/1.1\r\nHost: a\r\nContent-Length: " + fmt.Sprint(len(smuggled)) + "\r\n\r\n" + smuggled,
		// Trailer fields that name framing headers.
		"POST /v2/a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nContent-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n",
		// Expect 100-continue with a body sent at once.
		"POST /v2/a HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello",
	}
	for i, f := range framings {
		conn, err := net.Dial("tcp", fe.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		before := be.count()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(conn, f+"GET /v2/after HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
		br := bufio.NewReader(conn)
		answered := 0
		for {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				break
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode >= 200 {
				answered++
			}
		}
		conn.Close()
		time.Sleep(20 * time.Millisecond)
		be.mu.Lock()
		var paths []string
		for _, s := range be.last[before:] {
			paths = append(paths, s.RequestURI)
		}
		be.mu.Unlock()
		t.Logf("framing %d: front answered %d, backend saw %v", i, answered, paths)
		if got := be.count() - before; got > answered {
			t.Errorf("framing %d: backend saw %d requests, front answered %d", i, got, answered)
		}
	}
}

// TestTrustedProxyHeaders runs the real http_proxy_to_wsgi filter with a
// trusted peer: the backend sees the client it vouched for, its scheme,
// host and mount prefix (as our own headers, the prefix not in the path);
// from an untrusted peer the same headers change nothing.
func TestTrustedProxyHeaders(t *testing.T) {
	be := newBackend(t, false)
	ini := `
[composite:main]
use = egg:Paste#urlmap
/v2 = api

[pipeline:api]
pipeline = proxy_headers backend

[filter:proxy_headers]
use = egg:oslo.middleware#http_proxy_to_wsgi
enable_proxy_headers_parsing = true
trusted_proxies = TRUSTED

[app:backend]
use = egg:vietstack#proxy
url = BACKEND/base
`
	req := "GET /v2/servers?x=1 HTTP/1.1\r\nHost: internal:8774\r\nX-Forwarded-For: 203.0.113.9\r\n" +
		"X-Forwarded-Proto: https\r\nX-Forwarded-Host: api.example.com\r\nX-Forwarded-Prefix: /compute\r\nConnection: close\r\n\r\n"
	for _, tt := range []struct {
		trusted                       string
		uri, xff, proto, host, prefix string
	}{
		{"127.0.0.1", "/base/v2/servers?x=1", "203.0.113.9", "https", "api.example.com", "/compute"},
		{"192.0.2.1", "/base/v2/servers?x=1", "127.0.0.1", "http", "internal:8774", ""},
	} {
		fe := frontWith(t, strings.ReplaceAll(ini, "TRUSTED", tt.trusted), be.srv.URL, proxyheaders.Register)
		resp, body := raw(t, fe.Listener.Addr().String(), req)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d %s", resp.StatusCode, body)
		}
		s := be.lastSeen(t)
		got := []string{s.RequestURI, s.Header.Get("X-Forwarded-For"), s.Header.Get("X-Forwarded-Proto"),
			s.Header.Get("X-Forwarded-Host"), s.Header.Get("X-Forwarded-Prefix")}
		want := []string{tt.uri, tt.xff, tt.proto, tt.host, tt.prefix}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("trusted %s: backend saw %q, want %q", tt.trusted, got, want)
		}
	}
}

// TestCloseEndsUpgradedConnections: retiring the generation ends the
// websocket sessions that http.Server.Shutdown cannot see.
func TestCloseEndsUpgradedConnections(t *testing.T) {
	be := newBackend(t, false)
	p, err := proxy.New(proxy.Options{URL: be.srv.URL, WebSocket: true, DialTimeout: time.Second, TLSHandshakeTimeout: time.Second,
		ResponseHeaderTimeout: time.Second, IdleConnTimeout: time.Minute, MaxIdleConns: 4, MaxResponseHeader: 1 << 20}, nil)
	if err != nil {
		t.Fatal(err)
	}
	fe := httptest.NewServer(pipeline.Root(p))
	defer fe.Close()
	var conns []net.Conn
	for range 3 {
		conn, err := net.Dial("tcp", fe.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(conn, "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil || resp.StatusCode != 101 {
			t.Fatalf("upgrade: %v %v", resp, err)
		}
		conns = append(conns, conn)
	}
	if n := p.Upgraded(); n != 3 {
		t.Fatalf("%d upgraded connections tracked, want 3", n)
	}
	start := time.Now()
	p.Close()
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := c.Read(make([]byte, 64)); err == nil || isTimeout(err) {
			t.Errorf("conn %d still open after Close: %v", i, err)
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("closing took %v", d)
	}
	// A new upgrade after Close is refused.
	resp, body := raw(t, fe.Listener.Addr().String(), "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	if resp.StatusCode != 502 {
		t.Errorf("upgrade after Close: %d %s", resp.StatusCode, body)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
