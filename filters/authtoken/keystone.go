package authtoken

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// errInvalidToken is a validation that Keystone answered with 404: the
// token is unknown, malformed, expired or revoked.
var errInvalidToken = errors.New("token invalid")

// serviceError is a failure to get an answer about a token from Keystone:
// Keystone unreachable, timing out, answering 5xx or 403, or rejecting
// the filter's own credentials. The request gets 503 (keystonemiddleware's
// ServiceError). Its text never holds a token.
type serviceError struct{ msg string }

func (e *serviceError) Error() string { return e.msg }

func serviceErrorf(format string, args ...any) error {
	return &serviceError{msg: fmt.Sprintf(format, args...)}
}

// Bounds on what Keystone may send back.
const (
	maxTokenBody = 4 << 20  // a validation with a big catalog is tens of KiB
	maxOtherBody = 64 << 10 // discovery and error documents
)

// keystone talks to the Identity v3 API: it holds the filter's own service
// token (obtained with password credentials, renewed in the background
// before it expires, and again at once when Keystone rejects it) and
// validates tokens with GET /v3/auth/tokens.
type keystone struct {
	http      *http.Client
	authURL   string // as configured
	authBody  []byte // the JSON of POST /v3/auth/tokens
	timeout   time.Duration
	retries   int
	noCatalog bool
	log       *slog.Logger

	mu       sync.Mutex
	base     string // the v3 endpoint, "" until discovered
	tok      string // the service token, "" when there is none
	exp      time.Time
	lifetime time.Duration
	authing  chan struct{} // closed when the running authentication ends
	authErr  error         // the result of the last authentication

	nAuth atomic.Int64 // successful authentications (tests observe renewals)
}

// newHTTPClient returns the client for Keystone: bounded dial and TLS
// handshake, no proxy from the environment, no redirects (a redirect would
// carry the service token to wherever it points), optional CA file,
// client certificate and (only when asked) no certificate verification.
func newHTTPClient(o *Options) (*http.Client, error) {
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.Insecure} //nolint:gosec // operator's explicit choice
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, &optError{"cafile", err.Error()}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &optError{"cafile", fmt.Sprintf("%s holds no PEM certificate", o.CAFile)}
		}
		tlsConf.RootCAs = pool
	}
	if o.CertFile != "" || o.KeyFile != "" {
		if o.CertFile == "" || o.KeyFile == "" {
			return nil, &optError{"certfile", "certfile and keyfile go together"}
		}
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, &optError{"certfile", err.Error()}
		}
		tlsConf.Certificates = []tls.Certificate{cert}
	}
	dialer := &net.Dialer{Timeout: o.HTTPConnectTimeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		TLSClientConfig:        tlsConf,
		TLSHandshakeTimeout:    o.HTTPConnectTimeout,
		ResponseHeaderTimeout:  o.HTTPConnectTimeout,
		MaxIdleConns:           64,
		MaxIdleConnsPerHost:    32,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
		ForceAttemptHTTP2:      true,
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}, nil
}

// authRequest builds the JSON body of a v3 password authentication.
func authRequest(o *Options) ([]byte, error) {
	type named struct {
		ID     string `json:"id,omitempty"`
		Name   string `json:"name,omitempty"`
		Domain *named `json:"domain,omitempty"`
	}
	dom := func(id, name string) *named {
		if id == "" && name == "" {
			return nil
		}
		return &named{ID: id, Name: name}
	}
	user := map[string]any{"password": o.Password}
	if o.UserID != "" {
		user["id"] = o.UserID
	} else {
		user["name"] = o.Username
		user["domain"] = dom(o.UserDomainID, o.UserDomainName)
	}
	var scope any
	switch {
	case o.ProjectID != "":
		scope = map[string]any{"project": named{ID: o.ProjectID}}
	case o.ProjectName != "":
		scope = map[string]any{"project": named{Name: o.ProjectName, Domain: dom(o.ProjectDomainID, o.ProjectDomainName)}}
	case o.DomainID != "" || o.DomainName != "":
		scope = map[string]any{"domain": dom(o.DomainID, o.DomainName)}
	case o.SystemScope != "":
		scope = map[string]any{"system": map[string]bool{o.SystemScope: true}}
	}
	body := map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{"user": user}},
		"scope":    scope,
	}}
	return json.Marshal(body)
}

// v3Base returns the Identity v3 endpoint: auth_url itself when it names
// one (".../v3"), else the v3 entry of its version discovery document,
// else auth_url + "/v3". The answer is remembered.
func (k *keystone) v3Base(ctx context.Context) (string, error) {
	k.mu.Lock()
	base := k.base
	k.mu.Unlock()
	if base != "" {
		return base, nil
	}
	u := strings.TrimRight(k.authURL, "/")
	switch {
	case strings.HasSuffix(u, "/v3"):
		base = u
	case strings.HasSuffix(u, "/v2.0"):
		base = strings.TrimSuffix(u, "/v2.0") + "/v3"
	default:
		req, err := http.NewRequest(http.MethodGet, u+"/", nil)
		if err != nil {
			return "", serviceErrorf("identity discovery: %v", err)
		}
		req.Header.Set("Accept", "application/json")
		status, _, body, err := k.do(ctx, req, nil, maxOtherBody)
		if err != nil {
			return "", err
		}
		base = discoverV3(status, body)
		if base == "" {
			base = u + "/v3"
		}
	}
	k.mu.Lock()
	k.base = base
	k.mu.Unlock()
	return base, nil
}

// discoverV3 picks the v3 "self" link out of a version discovery document
// (Keystone answers 300 with {"versions": {"values": [...]}}, or 200 with
// {"version": {...}} at a versioned URL).
func discoverV3(status int, body []byte) string {
	if status != http.StatusOK && status != http.StatusMultipleChoices {
		return ""
	}
	type version struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		Links  []struct {
			Rel  string `json:"rel"`
			Href string `json:"href"`
		} `json:"links"`
	}
	var doc struct {
		Versions struct {
			Values []version `json:"values"`
		} `json:"versions"`
		Version *version `json:"version"`
	}
	if json.Unmarshal(body, &doc) != nil {
		return ""
	}
	vs := doc.Versions.Values
	if doc.Version != nil {
		vs = append(vs, *doc.Version)
	}
	for _, v := range vs {
		if !strings.HasPrefix(v.ID, "v3") {
			continue
		}
		for _, l := range v.Links {
			if l.Rel == "self" {
				if p, err := url.Parse(l.Href); err == nil && (p.Scheme == "http" || p.Scheme == "https") && p.Host != "" {
					return strings.TrimRight(l.Href, "/")
				}
			}
		}
	}
	return ""
}

// do sends req (with body, re-sent on each attempt), retrying transport
// failures up to k.retries times with a short exponential backoff. Each
// attempt is bounded by k.timeout. It returns the status, the headers and
// the body (at most limit bytes; a longer body is an error).
func (k *keystone) do(ctx context.Context, req *http.Request, body []byte, limit int64) (int, http.Header, []byte, error) {
	backoff := 100 * time.Millisecond
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, k.timeout)
		r := req.Clone(actx)
		if body != nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
		}
		resp, err := k.http.Do(r)
		if err == nil {
			data, rerr := io.ReadAll(io.LimitReader(resp.Body, limit+1))
			resp.Body.Close()
			cancel()
			if rerr != nil {
				err = rerr
			} else if int64(len(data)) > limit {
				return 0, nil, nil, serviceErrorf("identity server %s: answer larger than %d bytes", req.URL.Path, limit)
			} else {
				return resp.StatusCode, resp.Header, data, nil
			}
		} else {
			cancel()
		}
		if attempt >= k.retries || ctx.Err() != nil {
			return 0, nil, nil, serviceErrorf("identity server unreachable (%s %s, %d attempts): %v", req.Method, req.URL.Redacted(), attempt+1, scrubErr(err))
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, nil, nil, serviceErrorf("identity server unreachable: %v", ctx.Err())
		case <-t.C:
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// scrubErr drops the wrapping of *url.Error (which repeats the URL) and
// keeps the cause.
func scrubErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// serviceToken returns a usable service token, authenticating (once, for
// every waiting caller) when there is none or it is about to expire.
func (k *keystone) serviceToken(ctx context.Context) (string, error) {
	for attempt := 0; ; attempt++ {
		k.mu.Lock()
		if k.tok != "" && time.Until(k.exp) > safety(k.lifetime) {
			tok := k.tok
			k.mu.Unlock()
			return tok, nil
		}
		k.mu.Unlock()
		if attempt > 0 {
			return "", serviceErrorf("service authentication gave no usable token")
		}
		if err := k.refresh(ctx); err != nil {
			return "", err
		}
	}
}

// refresh authenticates again. Concurrent callers share one
// authentication and its result. A failure keeps the current token, which
// may still be usable.
func (k *keystone) refresh(ctx context.Context) error {
	k.mu.Lock()
	if ch := k.authing; ch != nil {
		k.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return serviceErrorf("waiting for the service token: %v", ctx.Err())
		}
		k.mu.Lock()
		err := k.authErr
		k.mu.Unlock()
		return err
	}
	ch := make(chan struct{})
	k.authing = ch
	k.mu.Unlock()
	err := k.authenticate(ctx)
	k.mu.Lock()
	k.authErr = err
	k.authing = nil
	close(ch)
	k.mu.Unlock()
	return err
}

// safety is how long before its expiry a service token stops being used:
// a tenth of its lifetime, at most 10 s.
func safety(lifetime time.Duration) time.Duration {
	return min(lifetime/10, 10*time.Second)
}

// renewMargin is how long before its expiry the background loop renews a
// service token: keystoneauth's 120 s, or a third of the lifetime for
// short-lived tokens.
func renewMargin(lifetime time.Duration) time.Duration {
	return min(lifetime/3, 120*time.Second)
}

// invalidate forgets tok (which Keystone rejected) so that the next caller
// authenticates again.
func (k *keystone) invalidate(tok string) {
	k.mu.Lock()
	if k.tok == tok {
		k.tok = ""
	}
	k.mu.Unlock()
}

// authenticate obtains a new service token with the password credentials.
func (k *keystone) authenticate(ctx context.Context) error {
	base, err := k.v3Base(ctx)
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, base+"/auth/tokens?nocatalog", nil)
	if err != nil {
		return serviceErrorf("service authentication: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	start := time.Now()
	status, hdr, body, err := k.do(ctx, req, k.authBody, maxTokenBody)
	if err != nil {
		return err
	}
	if status != http.StatusCreated {
		return serviceErrorf("service authentication at %s: identity server answered %d %s", base, status, errorTitle(body))
	}
	tok := hdr.Get("X-Subject-Token")
	var doc struct {
		Token struct {
			ExpiresAt time.Time `json:"expires_at"`
			IssuedAt  time.Time `json:"issued_at"`
		} `json:"token"`
	}
	if tok == "" || json.Unmarshal(body, &doc) != nil || doc.Token.ExpiresAt.IsZero() {
		return serviceErrorf("service authentication at %s: malformed answer", base)
	}
	issued := doc.Token.IssuedAt
	if issued.IsZero() {
		issued = start
	}
	// Keystone's clock says how long the token lives; ours says when.
	lifetime := doc.Token.ExpiresAt.Sub(issued)
	if lifetime <= 0 {
		return serviceErrorf("service authentication at %s: the token is already expired", base)
	}
	k.mu.Lock()
	k.tok, k.exp, k.lifetime = tok, start.Add(lifetime), lifetime
	k.mu.Unlock()
	k.nAuth.Add(1)
	k.log.Debug("authtoken: obtained a service token", "token", tokenRef(tok), "lifetime", lifetime)
	return nil
}

// errorTitle extracts the message of a Keystone error document, for logs.
func errorTitle(body []byte) string {
	var doc struct {
		Error struct {
			Title   string `json:"title"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &doc) != nil || doc.Error.Title == "" {
		return ""
	}
	msg := doc.Error.Message
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return "(" + doc.Error.Title + ": " + msg + ")"
}

// renewLoop keeps the service token fresh until stop is closed: it renews
// the token renewMargin before it expires, and after a failure tries
// again with a backoff from 1 s to 30 s. Requests never wait for it
// unless the token actually ran out.
func (k *keystone) renewLoop(stop <-chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-stop
		cancel()
	}()
	backoff := time.Second
	for {
		k.mu.Lock()
		var wait time.Duration
		if k.tok != "" {
			wait = time.Until(k.exp) - renewMargin(k.lifetime)
		}
		k.mu.Unlock()
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		k.mu.Lock()
		if k.tok != "" && time.Until(k.exp) > renewMargin(k.lifetime) {
			k.mu.Unlock() // renewed meanwhile by a request
			continue
		}
		k.mu.Unlock()
		if err := k.refresh(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			k.log.Warn("authtoken: renewing the service token failed; retrying", "error", err, "retry_in", backoff)
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		backoff = time.Second
	}
}

// validate asks Keystone about token: GET /v3/auth/tokens with the
// service token in X-Auth-Token and token in X-Subject-Token. 200 gives
// the token's data, 404 errInvalidToken, 401 (the service token was
// rejected) a fresh service token and one more try; anything else is a
// serviceError.
func (k *keystone) validate(ctx context.Context, token string, allowExpired bool) (*tokenInfo, error) {
	base, err := k.v3Base(ctx)
	if err != nil {
		return nil, err
	}
	u := base + "/auth/tokens"
	switch {
	case k.noCatalog && allowExpired:
		u += "?nocatalog&allow_expired=1"
	case k.noCatalog:
		u += "?nocatalog"
	case allowExpired:
		u += "?allow_expired=1"
	}
	for attempt := 0; attempt < 2; attempt++ {
		st, err := k.serviceToken(ctx)
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			return nil, serviceErrorf("validation: %v", err)
		}
		req.Header.Set("X-Auth-Token", st)
		req.Header.Set("X-Subject-Token", token)
		req.Header.Set("Accept", "application/json")
		status, _, body, err := k.do(ctx, req, nil, maxTokenBody)
		if err != nil {
			return nil, err
		}
		switch status {
		case http.StatusOK:
			info, err := parseToken(body)
			if err != nil {
				return nil, serviceErrorf("validation: malformed answer from the identity server: %v", err)
			}
			return info, nil
		case http.StatusNotFound:
			return nil, errInvalidToken
		case http.StatusUnauthorized:
			k.log.Info("authtoken: the identity server rejected the service token; authenticating again", "token", tokenRef(st))
			k.invalidate(st)
			continue
		default:
			return nil, serviceErrorf("validation: identity server answered %d %s", status, errorTitle(body))
		}
	}
	return nil, serviceErrorf("validation: the identity server rejected a fresh service token")
}
