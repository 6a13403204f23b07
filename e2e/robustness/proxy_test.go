package robustness

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// upstreamRecord is what the echo upstream saw of one request.
type upstreamRecord struct {
	header  http.Header
	trailer http.Header
	body    int
	proto   string
}

// TestProxyUpstreamSees is H4 and F3 through the proxy app: an upstream
// (a server of this test on 127.0.0.1 that records each request) gets the
// identity headers noauth set even when the client names them in
// Connection, X-Forwarded-For replaced by the peer's address, no header
// whose name holds "_", no request trailers and no h2c upgrade; and it
// sees exactly as many requests as the daemon answered.
func TestProxyUpstreamSees(t *testing.T) {
	var (
		mu   sync.Mutex
		seen []upstreamRecord
	)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	up := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		mu.Lock()
		seen = append(seen, upstreamRecord{r.Header.Clone(), r.Trailer.Clone(), int(n), r.Proto})
		mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintln(w, "upstream ok")
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = up.Serve(ln) }()
	t.Cleanup(func() { up.Close() })

	ini := suiteIni + fmt.Sprintf(`
[pipeline:proxy_pipe]
pipeline = request_id faultwrap noauth keystonecontext upstream

[app:upstream]
use = egg:vietstack#proxy
url = http://%s
response_header_timeout = 5s
`, ln.Addr())
	ini = strings.Replace(ini, "/echo = echo_pipe\n", "/echo = echo_pipe\n/up = proxy_pipe\n", 1)
	d := startDaemon(t, ini, suiteFiles)

	reqs := []struct {
		name string
		raw  string
	}{
		{"Connection names identity headers", rq("GET /up/a HTTP/1.1", "Host: x", "X-Auth-Token: alice:demo",
			"Connection: X-Identity-Status, X-Roles, X-User-Id, X-Project-Id, X-Openstack-Request-Id, X-Forwarded-For",
			"X-Forwarded-For: 6.6.6.6", "X-Roles: admin")},
		{"underscore headers", rq("GET /up/b HTTP/1.1", "Host: x", "X-Auth-Token: alice:demo",
			"X_Forwarded_For: 7.7.7.7", "X_Roles: admin", "X_Custom: 1")},
		{"h2c upgrade", rq("GET /up/c HTTP/1.1", "Host: x", "X-Auth-Token: alice:demo",
			"Connection: Upgrade, HTTP2-Settings", "Upgrade: h2c", "HTTP2-Settings: AAMAAABkAAQAAP__")},
		{"chunked body with trailers", rq("POST /up/d HTTP/1.1", "Host: x", "X-Auth-Token: alice:demo",
			"Transfer-Encoding: chunked", "Trailer: X-Roles, X-Sneaky") + "5\r\nhello\r\n0\r\nX-Roles: admin\r\nX-Sneaky: 1\r\n\r\n"},
	}
	for i, rr := range reqs {
		res := exchange(t, d.addr, rr.raw, 1)
		if fmt.Sprint(res.statuses) != "[200]" || res.desync != "" {
			t.Fatalf("%s: %v %s %.200q", rr.name, res.statuses, res.desync, res.bodies)
		}
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		// each exchange also sends the /echo/probe, which is not proxied
		if n != i+1 {
			t.Fatalf("%s: the upstream saw %d requests after %d answered", rr.name, n, i+1)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for i, s := range seen {
		h := s.header
		if h.Get("X-User-Id") != "alice" || h.Get("X-Project-Id") != "demo" || h.Get("X-Identity-Status") != "Confirmed" {
			t.Errorf("%s: upstream identity %q/%q/%q, want noauth's alice/demo/Confirmed", reqs[i].name,
				h.Get("X-User-Id"), h.Get("X-Project-Id"), h.Get("X-Identity-Status"))
		}
		if _, ok := h["X-Roles"]; !ok {
			t.Errorf("%s: X-Roles removed on the way", reqs[i].name)
		} else if h.Get("X-Roles") == "admin" {
			t.Errorf("%s: the client's X-Roles reached the upstream", reqs[i].name)
		}
		if h.Get("X-Openstack-Request-Id") == "" {
			t.Errorf("%s: the request id was removed on the way", reqs[i].name)
		}
		if xff := h.Values("X-Forwarded-For"); len(xff) != 1 || xff[0] != "127.0.0.1" {
			t.Errorf("%s: upstream X-Forwarded-For %q, want the peer's 127.0.0.1 only", reqs[i].name, xff)
		}
		for k := range h {
			if strings.Contains(k, "_") {
				t.Errorf("%s: header %s reached the upstream", reqs[i].name, k)
			}
		}
		if h.Get("Upgrade") != "" || h.Get("Http2-Settings") != "" {
			t.Errorf("%s: upgrade headers reached the upstream: %v", reqs[i].name, h)
		}
		if len(s.trailer) > 0 {
			t.Errorf("%s: trailers reached the upstream: %v", reqs[i].name, s.trailer)
		}
	}
	if seen[3].body != 5 {
		t.Errorf("the chunked body arrived as %d bytes, want 5", seen[3].body)
	}
}
