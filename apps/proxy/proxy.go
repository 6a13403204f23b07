// Package proxy is the gateway's reverse-proxy application: it forwards
// every request it receives to one backend URL with
// [httputil.ReverseProxy] (through Rewrite, never the deprecated Director)
// and an HTTP transport of its own with bounded timeouts and a bounded
// connection pool.
//
// What the backend receives:
//
//   - The path the pipeline routed: the backend URL's path, then the
//     request's ScriptName (the prefix a urlmap consumed), then the rest of
//     the path. Decoding the forwarded path gives exactly ScriptName+Path;
//     the ScriptName part is always sent with literal slashes, so an
//     encoded slash can never move the routing boundary. Paths holding a
//     "." or ".." segment (after decoding, so %2e%2e too) are refused with
//     400: a backend that resolves dot segments would reach a resource
//     other than the one the urlmap matched.
//   - No hop-by-hop headers (Connection, Keep-Alive, Upgrade, TE, Trailer,
//     Transfer-Encoding, Proxy-*, and the headers the client names in
//     Connection), except that a client cannot delete a protected header by
//     naming it in Connection: the identity headers the auth filters set,
//     the request id headers and the configured protected_headers are
//     restored from the inbound request.
//   - X-Forwarded-For, X-Forwarded-Proto and X-Forwarded-Host computed by
//     us from the pipeline's derived client address and scheme
//     ([pipeline.Request].RemoteAddr, .Scheme, set by the
//     http_proxy_to_wsgi filter from trusted peers only) and the request
//     host; the client's copies, Forwarded, X-Forwarded-Prefix, X-Real-IP
//     and (by default) every header whose name holds "_" are dropped. A
//     mount prefix that http_proxy_to_wsgi derived from a trusted
//     X-Forwarded-Prefix (and put in front of ScriptName, as oslo does) is
//     not sent in the path but as our own X-Forwarded-Prefix.
//   - No request trailers, no "Upgrade: h2c" (nor HTTP2-Settings), and
//     "Upgrade: websocket" only when websocket = true.
//   - When the pipeline has a request id (the request_id filter), the
//     validated global request id the client sent, else ours, as
//     X-Openstack-Request-Id: the backend's oslo request_id middleware then
//     records it as the global request id. The backend's own request id
//     headers (request_id_headers) are dropped from its response, so the
//     client gets one id, the one our access log shows.
//
// Upgraded (websocket) connections are tracked: when the generation that
// built the proxy is retired (after a reload's grace, or at shutdown), they
// are closed with the transport's idle connections, since
// http.Server.Shutdown does not see hijacked connections.
//
// Errors become JSON faults that never name the backend: 502 when the
// backend cannot be reached or breaks the exchange, 504 when it does not
// answer within the timeouts. When the request's own context is done (the
// client left, or a timeout filter's deadline passed) the proxy writes
// nothing and leaves the answer to that filter.
package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vietstack/vietstack-api/pipeline"
)

// Options are the options of the proxy app.
type Options struct {
	URL                   string            `ini:"url" doc:"the backend: http(s)://host[:port][/prefix]; the routed path is appended to prefix (required)"`
	DialTimeout           time.Duration     `ini:"dial_timeout" default:"5s" doc:"bound on opening a TCP connection to the backend"`
	TLSHandshakeTimeout   time.Duration     `ini:"tls_handshake_timeout" default:"10s" doc:"bound on the TLS handshake with an https backend"`
	ResponseHeaderTimeout time.Duration     `ini:"response_header_timeout" default:"60s" doc:"bound on waiting for the backend's response headers after the request is sent; exceeded gives 504"`
	IdleConnTimeout       time.Duration     `ini:"idle_conn_timeout" default:"90s" doc:"how long an idle kept-alive backend connection is kept"`
	ExpectContinueTimeout time.Duration     `ini:"expect_continue_timeout" default:"1s" doc:"wait for 100 Continue before sending a body when the client asked for it"`
	MaxIdleConns          int               `ini:"max_idle_conns" default:"64" doc:"kept-alive idle connections to the backend"`
	MaxConnsPerHost       int               `ini:"max_conns" default:"256" doc:"bound on connections to the backend (dialing, active and idle); requests beyond it wait"`
	MaxResponseHeader     pipeline.ByteSize `ini:"max_response_header_bytes" default:"1MiB" doc:"bound on the size of the backend's response headers"`
	CAFile                string            `ini:"cafile" doc:"PEM file of CA certificates that sign an https backend's certificate (default: the system pool)"`
	Insecure              bool              `ini:"insecure" default:"false" doc:"do not verify an https backend's certificate (testing only)"`
	ServerName            string            `ini:"server_name" doc:"TLS server name expected in the backend's certificate (default: the url's host)"`
	HTTPProxy             string            `ini:"http_proxy" doc:"an HTTP proxy URL to reach the backend through; the environment's HTTP_PROXY is never used"`
	PreserveHost          bool              `ini:"preserve_host" default:"false" doc:"send the client's Host header instead of the backend's host"`
	WebSocket             bool              `ini:"websocket" default:"false" doc:"forward Upgrade: websocket requests (other upgrades, h2c included, are never forwarded)"`
	DropUnderscore        bool              `ini:"drop_underscore_headers" default:"true" doc:"drop request headers whose names hold '_' (X_Forwarded_For would alias X-Forwarded-For in WSGI backends)"`
	ProtectedHeaders      []string          `ini:"protected_headers" doc:"more request headers a client's Connection header must not remove (identity and request id headers always are)"`
	FlushInterval         time.Duration     `ini:"flush_interval" default:"0" doc:"0 flushes every write to the client at once (streaming); a positive value batches flushes"`
	RequestIDHeaders      []string          `ini:"request_id_headers" default:"X-Openstack-Request-Id X-Compute-Request-Id" doc:"response headers carrying a request id: when the pipeline gave the request one, the backend's copies are dropped so the client sees ours"`
}

// Validate checks the options that need more than parsing.
func (o *Options) Validate() error {
	if o.URL == "" {
		return errors.New("url is required")
	}
	if _, err := parseTarget(o.URL); err != nil {
		return err
	}
	if o.MaxIdleConns < 0 || o.MaxConnsPerHost < 0 {
		return errors.New("max_idle_conns and max_conns must not be negative")
	}
	if o.MaxResponseHeader <= 0 {
		return errors.New("max_response_header_bytes must be positive")
	}
	if o.DialTimeout <= 0 || o.ResponseHeaderTimeout <= 0 || o.TLSHandshakeTimeout <= 0 || o.IdleConnTimeout <= 0 {
		return errors.New("dial_timeout, tls_handshake_timeout, response_header_timeout and idle_conn_timeout must be positive")
	}
	if o.HTTPProxy != "" {
		u, err := url.Parse(o.HTTPProxy)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("http_proxy %q: want http(s)://host:port", o.HTTPProxy)
		}
	}
	return nil
}

func parseTarget(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("url %q: %v", s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("url %q: scheme must be http or https", s)
	}
	if u.Host == "" || u.User != nil || u.Fragment != "" {
		return nil, fmt.Errorf("url %q: want http(s)://host[:port][/prefix] without user info or fragment", s)
	}
	return u, nil
}

// Register registers the proxy app factory in reg under the name "proxy"
// (use = egg:vietstack#proxy).
func Register(reg *pipeline.Registry) {
	reg.App("proxy", Factory, pipeline.Info{
		Doc:     "reverse proxy to one backend URL: routed path forwarded verbatim, X-Forwarded-* set by us, bounded timeouts and pool, 502/504 JSON faults",
		Options: Options{},
	})
}

// Factory is the proxy AppFactory: it decodes Options, builds the handler
// with New and closes the transport's idle connections when the
// generation is retired.
func Factory(ctx context.Context, c *pipeline.Config) (http.Handler, error) {
	var o Options
	if err := c.Decode(&o); err != nil {
		return nil, err
	}
	p, err := New(o, c.Logger)
	if err != nil {
		key := ""
		var ke *keyError
		if errors.As(err, &ke) {
			key = ke.key
		}
		return nil, c.Errorf(key, "%v", err)
	}
	c.OnClose(func() error {
		p.Close()
		return nil
	})
	return p, nil
}

type keyError struct {
	key string
	err error
}

func (e *keyError) Error() string { return e.err.Error() }
func (e *keyError) Unwrap() error { return e.err }

// Proxy is the proxy handler. It is safe for concurrent use.
type Proxy struct {
	rp        *httputil.ReverseProxy
	transport *http.Transport
	target    *url.URL
	// targetPath and targetRaw are the backend prefix without its trailing
	// slash, decoded and escaped.
	targetPath, targetRaw string
	websocket             bool
	preserveHost          bool
	dropUnderscore        bool
	protected             []string // canonical names
	idHeaders             []string // canonical names
	upgraded              upgradeSet
	log                   *slog.Logger
}

// DefaultProtectedHeaders are the request headers that a client's
// Connection header can never remove: the identity headers that
// keystonemiddleware's auth_token and our auth filters set, and the request
// id headers.
var DefaultProtectedHeaders = []string{
	"X-Identity-Status", "X-Service-Identity-Status",
	"X-Domain-Id", "X-Domain-Name",
	"X-Project-Id", "X-Project-Name", "X-Project-Domain-Id", "X-Project-Domain-Name",
	"X-User-Id", "X-User-Name", "X-User-Domain-Id", "X-User-Domain-Name",
	"X-Roles", "X-Is-Admin-Project", "X-System-Scope",
	"X-Service-Domain-Id", "X-Service-Domain-Name", "X-Service-Project-Id", "X-Service-Project-Name",
	"X-Service-Project-Domain-Id", "X-Service-Project-Domain-Name", "X-Service-User-Id",
	"X-Service-User-Name", "X-Service-User-Domain-Id", "X-Service-User-Domain-Name", "X-Service-Roles",
	"X-Service-Catalog", "X-Auth-Token", "X-Service-Token", "X-Tenant-Id", "X-Tenant-Name", "X-Tenant",
	"X-User", "X-Role", "X-Remote-User",
	"X-Openstack-Request-Id", "X-Compute-Request-Id", "X-Global-Request-Id",
}

// hopHeaders are removed by ReverseProxy itself; they can never be
// protected.
var hopHeaders = map[string]bool{
	"Connection": true, "Proxy-Connection": true, "Keep-Alive": true, "Proxy-Authenticate": true,
	"Proxy-Authorization": true, "Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
}

// New builds a Proxy from validated options; log receives transport
// errors (which may name the backend; responses never do). It returns an
// error when the CA file cannot be read or holds no certificate.
func New(o Options, log *slog.Logger) (*Proxy, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	target, _ := parseTarget(o.URL)
	tr, err := newTransport(o, target)
	if err != nil {
		return nil, err
	}
	p := &Proxy{
		transport:      tr,
		target:         target,
		targetPath:     strings.TrimSuffix(target.Path, "/"),
		targetRaw:      strings.TrimSuffix(target.EscapedPath(), "/"),
		websocket:      o.WebSocket,
		preserveHost:   o.PreserveHost,
		dropUnderscore: o.DropUnderscore,
		log:            log,
	}
	seen := map[string]bool{}
	for _, h := range append(append([]string(nil), DefaultProtectedHeaders...), o.ProtectedHeaders...) {
		k := textproto.CanonicalMIMEHeaderKey(h)
		if hopHeaders[k] || seen[k] {
			continue
		}
		seen[k] = true
		p.protected = append(p.protected, k)
	}
	for _, h := range o.RequestIDHeaders {
		p.idHeaders = append(p.idHeaders, textproto.CanonicalMIMEHeaderKey(h))
	}
	flush := o.FlushInterval
	if flush == 0 {
		flush = -1
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		ModifyResponse: p.modifyResponse,
		Transport:      tr,
		FlushInterval:  flush,
		BufferPool:     bufferPool{},
		ErrorHandler:   p.errorHandler,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return p, nil
}

func newTransport(o Options, target *url.URL) (*http.Transport, error) {
	dialer := &net.Dialer{Timeout: o.DialTimeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		TLSHandshakeTimeout:    o.TLSHandshakeTimeout,
		ResponseHeaderTimeout:  o.ResponseHeaderTimeout,
		IdleConnTimeout:        o.IdleConnTimeout,
		ExpectContinueTimeout:  o.ExpectContinueTimeout,
		MaxIdleConns:           o.MaxIdleConns,
		MaxIdleConnsPerHost:    o.MaxIdleConns,
		MaxConnsPerHost:        o.MaxConnsPerHost,
		MaxResponseHeaderBytes: int64(o.MaxResponseHeader),
		DisableCompression:     true, // pass encodings through untouched
		// HTTP/1.1 only: Upgrade (websocket) needs it, and a non-nil
		// empty TLSNextProto keeps the transport from negotiating h2.
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	if o.HTTPProxy != "" {
		u, _ := url.Parse(o.HTTPProxy)
		tr.Proxy = http.ProxyURL(u)
	}
	if target.Scheme == "https" || o.CAFile != "" || o.Insecure {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: o.ServerName, InsecureSkipVerify: o.Insecure}
		if o.CAFile != "" {
			pem, err := os.ReadFile(o.CAFile)
			if err != nil {
				return nil, &keyError{"cafile", fmt.Errorf("cafile: %v", err)}
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, &keyError{"cafile", fmt.Errorf("cafile %s: no PEM certificate found", o.CAFile)}
			}
			cfg.RootCAs = pool
		}
		tr.TLSClientConfig = cfg
	}
	return tr, nil
}

// Close releases the transport's idle backend connections and closes the
// upgraded (websocket) connections still open, which ends them; plain
// requests still in flight keep working, and later upgrade attempts get
// 502.
func (p *Proxy) Close() {
	p.transport.CloseIdleConnections()
	p.upgraded.closeAll()
}

// upgradeSet tracks the client connections hijacked for upgrades, so that
// retiring the generation (or stopping) can end them: http.Server's
// Shutdown does not see hijacked connections.
type upgradeSet struct {
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

func (s *upgradeSet) add(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.conns == nil {
		s.conns = map[net.Conn]struct{}{}
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *upgradeSet) remove(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *upgradeSet) closeAll() {
	s.mu.Lock()
	conns := s.conns
	s.conns, s.closed = nil, true
	s.mu.Unlock()
	for c := range conns {
		c.Close()
	}
}

// Upgraded returns the number of upgraded connections open through p.
func (p *Proxy) Upgraded() int {
	p.upgraded.mu.Lock()
	defer p.upgraded.mu.Unlock()
	return len(p.upgraded.conns)
}

// hijackWriter registers the connection ReverseProxy hijacks for an
// upgrade.
type hijackWriter struct {
	http.ResponseWriter
	set *upgradeSet
}

func (w *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.set.mu.Lock()
	closed := w.set.closed
	w.set.mu.Unlock()
	if closed {
		return nil, nil, errors.New("proxy closed: upgrade refused")
	}
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if !w.set.add(c) {
		c.Close()
		return nil, nil, errors.New("proxy closed: upgrade refused")
	}
	return &trackedConn{Conn: c, set: w.set}, brw, nil
}

func (w *hijackWriter) FlushError() error {
	return http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *hijackWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type trackedConn struct {
	net.Conn
	set  *upgradeSet
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() { c.set.remove(c.Conn) })
	return c.Conn.Close()
}

// Transport returns the proxy's transport (read-only; for tests and
// diagnostics).
func (p *Proxy) Transport() *http.Transport { return p.transport }

// ServeHTTP forwards r to the backend.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	script := ""
	if st := pipeline.RequestFrom(r); st != nil {
		script = st.ScriptName
	}
	if hasDotSegment(script) || hasDotSegment(r.URL.Path) {
		writeFault(w, http.StatusBadRequest)
		return
	}
	if _, up := r.Header["Upgrade"]; up && p.websocket {
		w = &hijackWriter{ResponseWriter: w, set: &p.upgraded}
	}
	p.rp.ServeHTTP(w, r)
}

// hasDotSegment reports whether the decoded path p has a "." or ".."
// segment.
func hasDotSegment(p string) bool {
	for i := 0; i < len(p); {
		j := strings.IndexByte(p[i:], '/')
		var seg string
		if j < 0 {
			seg, i = p[i:], len(p)
		} else {
			seg, i = p[i:i+j], i+j+1
		}
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	in, out := pr.In, pr.Out
	st := pipeline.RequestFrom(in)
	script, remote, scheme := "", in.RemoteAddr, "http"
	if in.TLS != nil {
		scheme = "https"
	}
	if st != nil {
		script, remote, scheme = st.ScriptName, st.RemoteAddr, st.Scheme
	}

	// A mount prefix that http_proxy_to_wsgi put in front of the script
	// name (from a trusted X-Forwarded-Prefix) is not part of the path we
	// routed: it goes to the backend as X-Forwarded-Prefix instead.
	mount := mountPrefix(in, script)
	script = script[len(mount):]

	// The URL: backend prefix + routed script name + rest of the path.
	u := *p.target
	u.Path = p.targetPath + script + in.URL.Path
	rest := in.URL.EscapedPath()
	if in.URL.Path != "" && in.URL.Path[0] == '/' && (rest == "" || rest[0] != '/') {
		// The routing boundary was an encoded slash ("/v2%2fadmin"
		// routed as "/v2" + "/admin"): send it literally.
		rest = escapePath(in.URL.Path)
	}
	u.RawPath = p.targetRaw + escapePath(script) + rest
	if u.Path == "" {
		u.Path, u.RawPath = "/", ""
	}
	switch {
	case p.target.RawQuery == "":
		u.RawQuery = in.URL.RawQuery
	case in.URL.RawQuery != "":
		u.RawQuery = p.target.RawQuery + "&" + in.URL.RawQuery
	}
	u.ForceQuery = false
	out.URL = &u
	if p.preserveHost {
		out.Host = in.Host
	} else {
		out.Host = ""
	}

	h := out.Header
	// Headers a client's Connection named were removed with the hop-by-hop
	// ones; put the protected ones back from the inbound request.
	for _, k := range p.protected {
		if v, ok := in.Header[k]; ok {
			h[k] = v
		}
	}
	// Upgrades: only websocket, only when enabled; never h2c.
	if up, ok := h["Upgrade"]; ok {
		if !p.websocket || len(up) != 1 || !strings.EqualFold(strings.TrimSpace(up[0]), "websocket") {
			delete(h, "Upgrade")
			delete(h, "Connection")
		}
	}
	delete(h, "Http2-Settings")
	out.Trailer = nil

	// Forwarding headers are ours only.
	for _, k := range [...]string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto",
		"X-Forwarded-Prefix", "X-Forwarded-Port", "X-Forwarded-Server", "X-Forwarded-Ssl", "X-Real-Ip",
		"X-Original-Url", "X-Rewrite-Url"} {
		delete(h, k)
	}
	if p.dropUnderscore {
		for k := range h {
			if strings.IndexByte(k, '_') >= 0 {
				delete(h, k)
			}
		}
	}
	if st != nil {
		id := st.GlobalRequestID
		if id == "" {
			id = st.RequestID
		}
		if id != "" {
			h["X-Openstack-Request-Id"] = []string{id}
		}
	}
	if host := clientHost(remote); host != "" {
		h["X-Forwarded-For"] = []string{host}
	}
	h["X-Forwarded-Host"] = []string{in.Host}
	h["X-Forwarded-Proto"] = []string{scheme}
	if mount != "" {
		h["X-Forwarded-Prefix"] = []string{mount}
	}
}

// mountPrefix returns the leading part of script that the request's own
// target does not hold: the mount prefix that trusted proxy-header parsing
// prepended to the script name. The routed path (script + rest) is the
// request target's path, slashes collapsed, with that prefix in front.
func mountPrefix(in *http.Request, script string) string {
	if script == "" || in.RequestURI == "" || in.RequestURI[0] != '/' {
		return ""
	}
	target := in.RequestURI
	if i := strings.IndexByte(target, '?'); i >= 0 {
		target = target[:i]
	}
	orig, err := url.PathUnescape(target)
	if err != nil {
		return ""
	}
	for strings.Contains(orig, "//") {
		orig = strings.ReplaceAll(orig, "//", "/")
	}
	routed := script + in.URL.Path
	if len(routed) <= len(orig) || !strings.HasSuffix(routed, orig) {
		return ""
	}
	mount := routed[:len(routed)-len(orig)]
	if !strings.HasPrefix(script, mount) {
		return ""
	}
	return mount
}

// modifyResponse drops the backend's request id headers when the pipeline
// set its own.
func (p *Proxy) modifyResponse(res *http.Response) error {
	if res.Request == nil {
		return nil
	}
	if st := pipeline.RequestFrom(res.Request); st != nil && st.RequestID != "" {
		for _, k := range p.idHeaders {
			delete(res.Header, k)
		}
	}
	return nil
}

// escapePath escapes a decoded path the way url.URL.EscapedPath does for a
// path without RawPath.
func escapePath(p string) string {
	if p == "" {
		return ""
	}
	u := url.URL{Path: p}
	return u.EscapedPath()
}

// clientHost returns the address part of a host:port (or a bare address).
func clientHost(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return strings.Trim(remote, "[]")
}

// Faults, pre-rendered: the body names neither the backend nor the error.
// Plain variables rather than maps filled by an init function, so that
// package initialisation allocates nothing for them.
var (
	badRequestBody     = []byte(`{"error": {"code": 400, "title": "Bad Request", "message": "The request path contains a dot segment."}}` + "\n")
	badGatewayBody     = []byte(`{"error": {"code": 502, "title": "Bad Gateway", "message": "The backend service could not be reached or returned an invalid response."}}` + "\n")
	gatewayTimeoutBody = []byte(`{"error": {"code": 504, "title": "Gateway Timeout", "message": "The backend service did not answer in time."}}` + "\n")
	badRequestLen      = strconv.Itoa(len(badRequestBody))
	badGatewayLen      = strconv.Itoa(len(badGatewayBody))
	gatewayTimeoutLen  = strconv.Itoa(len(gatewayTimeoutBody))
)

// writeFault answers code, one of 400, 502 and 504, with its body.
func writeFault(w http.ResponseWriter, code int) {
	var body []byte
	var length string
	switch code {
	case http.StatusBadRequest:
		body, length = badRequestBody, badRequestLen
	case http.StatusGatewayTimeout:
		body, length = gatewayTimeoutBody, gatewayTimeoutLen
	default:
		code, body, length = http.StatusBadGateway, badGatewayBody, badGatewayLen
	}
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{length}
	h["X-Content-Type-Options"] = []string{"nosniff"}
	h["Cache-Control"] = []string{"no-store"}
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		// The client is gone or an outer filter's deadline passed: that
		// filter (timeout) owns the answer.
		p.log.LogAttrs(r.Context(), slog.LevelDebug, "proxy request ended by its context", slog.String("error", err.Error()))
		return
	}
	code := http.StatusBadGateway
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		code = http.StatusGatewayTimeout
	}
	p.log.LogAttrs(r.Context(), slog.LevelWarn, "proxy backend error",
		slog.Int("status", code), slog.String("error", err.Error()))
	writeFault(w, code)
}

// bufferPool lends 32 KiB copy buffers to ReverseProxy. It keeps up to
// 256 idle buffers (8 MiB) in a channel, so neither Get nor Put allocates
// in the steady state; beyond that, buffers are left to the collector.
type bufferPool struct{}

// buffers is made on first use: a process without a proxy does not
// allocate its 6 KiB at start-up.
var buffers = sync.OnceValue(func() chan []byte { return make(chan []byte, 256) })

func (bufferPool) Get() []byte {
	select {
	case b := <-buffers():
		return b
	default:
		return make([]byte, 32<<10)
	}
}

func (bufferPool) Put(b []byte) {
	if cap(b) < 32<<10 {
		return
	}
	select {
	case buffers() <- b[:32<<10]:
	default:
	}
}
