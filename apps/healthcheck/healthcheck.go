// Package healthcheck provides oslo.middleware's Healthcheck for
// vietstack-api, in its two deployment positions:
//
//   - the "healthcheck" application (oslo_middleware:Healthcheck.app_factory),
//     usually mounted by urlmap at /healthcheck, which answers every request
//     routed to it;
//   - the legacy "healthcheck_filter" filter (oslo_middleware:Healthcheck.factory,
//     deprecated upstream but still used by keystone and glance-registry),
//     which answers only when the full request path (SCRIPT_NAME +
//     PATH_INFO) equals the option path and hands every other request on.
//
// The answer follows oslo.middleware 5: GET (and any other method but
// HEAD) gets 200 when every backend is healthy and 503 otherwise, with a
// body chosen by Accept among text/plain (the default, the reasons one per
// line: "OK", "DISABLED BY FILE", or an empty body with no backends),
// text/html and application/json ({"detailed": false, "reasons": [...]},
// pretty-printed with sorted keys); HEAD gets 204 or 503 with no body.
//
// Backends (option backends, run in order): disable_by_file (unhealthy
// while disable_by_file_path exists), disable_by_files_ports (the same,
// with a path per server port), enable_by_files (unhealthy while any of
// enable_by_file_paths is missing). Each check is one stat(2) per request,
// so a file created or removed takes effect on the next request.
//
// Differences from oslo, for safety: detailed = true never shows the host
// name, runtime version, GC state or stacks (only the check classes and
// details, the time and the goroutine count) and is refused unless
// allowed_source_ranges limits who may ask; an unknown backend name, a
// backend without its path option and a malformed source range are load
// errors where oslo ignores them or fails per request; in the application
// position a request that the source or proxy rules exclude gets 404 (oslo
// fails with a 500).
//
// Options are read as oslo's ConfigurableMiddleware reads them: each from
// the paste section, else from the global conf, else, when the section
// names oslo_config_project (and optionally oslo_config_file or
// oslo_config_program), from the [healthcheck] group of that project's
// oslo.config file, else the default.
//
// A daemon can make every healthcheck report 503 while it drains before a
// shutdown: it creates a [Drain], passes it with [WithDrain] to
// [Register], and calls Drain.Set when the stop signal arrives.
package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"github.com/vietstack/vietstack-api/filters/osloconf"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/vietstack/vietstack-api/pipeline"
)

// Options are the options of the healthcheck app and filter (oslo's
// [healthcheck] group, read from the paste section).
type Options struct {
	Path                  string   `ini:"path" default:"/healthcheck" doc:"filter only: the full request path answered (SCRIPT_NAME + PATH_INFO, query ignored); other paths pass through. Ignored by the app"`
	Backends              []string `ini:"backends" doc:"checks run in order: disable_by_file, disable_by_files_ports, enable_by_files (disable_by_file and enable_by_files exclude each other); none means always healthy"`
	Detailed              bool     `ini:"detailed" default:"false" doc:"add check classes and details, the time and the goroutine count (never host names, versions or stacks); requires allowed_source_ranges"`
	AllowedSourceRanges   []string `ini:"allowed_source_ranges" doc:"CIDRs or addresses allowed to ask; other clients are not answered (the filter passes them on, the app answers 404). The client address is the one trusted proxy parsing derived"`
	IgnoreProxiedRequests bool     `ini:"ignore_proxied_requests" default:"false" doc:"do not answer requests carrying X-Forwarded, X-Forwarded-Proto, -Host, -For or -Prefix"`
	DisableByFilePath     string   `ini:"disable_by_file_path" doc:"disable_by_file: report 503 DISABLED BY FILE while this file exists"`
	DisableByFilePaths    []string `ini:"disable_by_file_paths" doc:"disable_by_files_ports: port:path items; the file for the port the request arrived on disables the check"`
	EnableByFilePaths     []string `ini:"enable_by_file_paths" doc:"enable_by_files: report 503 FILE PATH MISSING while any of these files is missing"`

	_ struct{} `ini:"oslo_config_project,ignore" doc:"oslo.config project whose config file supplies [healthcheck] options"`
	_ struct{} `ini:"oslo_config_file,ignore" doc:"the oslo.config file to read instead of the project's standard ones"`
	_ struct{} `ini:"oslo_config_program,ignore" doc:"oslo.config program name (an extra PROGRAM.conf is searched)"`
}

// Drain is a shutdown signal owned by the daemon. While it is set, every
// healthcheck built with it (see [WithDrain]) reports 503 with the reason
// "SHUTTING DOWN", so that load balancers stop sending traffic while
// in-flight and newly arriving requests are still served. Its zero value
// is unset; a nil *Drain is never set. It is safe for concurrent use.
type Drain struct{ set atomic.Bool }

// Set makes the healthchecks report 503 from the next request on.
func (d *Drain) Set() { d.set.Store(true) }

// Clear undoes Set (for a cancelled shutdown, and for tests).
func (d *Drain) Clear() { d.set.Store(false) }

// IsSet reports whether Set was called (and not cleared).
func (d *Drain) IsSet() bool { return d != nil && d.set.Load() }

// Option configures how [Register], [AppFactory], [FilterFactory] and
// [New] build healthchecks.
type Option func(*settings)

type settings struct{ drain *Drain }

// WithDrain ties the healthchecks to d: they report 503 while d is set.
func WithDrain(d *Drain) Option { return func(s *settings) { s.drain = d } }

// Register registers the "healthcheck" application and the legacy
// "healthcheck_filter" filter in reg, with their oslo spellings as
// aliases (egg:oslo.middleware#healthcheck names both: it is an app or a
// filter according to the section that uses it).
func Register(reg *pipeline.Registry, opts ...Option) {
	reg.App("healthcheck", AppFactory(opts...), pipeline.Info{
		Doc:     "oslo Healthcheck as an app: 200 OK / 503 with reasons by Accept (text, JSON, HTML), HEAD 204; backends disable_by_file, disable_by_files_ports, enable_by_files",
		Options: Options{},
	})
	reg.Filter("healthcheck_filter", FilterFactory(opts...), pipeline.Info{
		Doc:     "oslo Healthcheck as a (legacy) filter: answers like the healthcheck app when the full path equals path, passes every other request on",
		Options: Options{},
	})
	for _, a := range []string{
		"oslo_middleware:Healthcheck.app_factory",
		"oslo_middleware.healthcheck:Healthcheck.app_factory",
		"egg:oslo.middleware#healthcheck",
	} {
		reg.Alias(a, "healthcheck")
	}
	for _, a := range []string{
		"oslo_middleware:Healthcheck.factory",
		"oslo_middleware.healthcheck:Healthcheck.factory",
		"egg:oslo.middleware#healthcheck",
	} {
		reg.Alias(a, "healthcheck_filter")
	}
}

// AppFactory returns the AppFactory of the healthcheck application.
func AppFactory(opts ...Option) pipeline.AppFactory {
	return func(ctx context.Context, c *pipeline.Config) (http.Handler, error) {
		ch, err := build(c, opts)
		if err != nil {
			return nil, err
		}
		return ch, nil
	}
}

// FilterFactory returns the FilterFactory of the legacy healthcheck filter.
func FilterFactory(opts ...Option) pipeline.FilterFactory {
	return func(ctx context.Context, c *pipeline.Config) (pipeline.Middleware, error) {
		ch, err := build(c, opts)
		if err != nil {
			return nil, err
		}
		return ch.Middleware, nil
	}
}

func build(c *pipeline.Config, opts []Option) (*Checker, error) {
	oslo, err := osloconf.Load(c)
	if err != nil {
		return nil, err
	}
	var file func(key string) (value, where string, ok bool, err error)
	if oslo != nil {
		file = func(key string) (string, string, bool, error) { return oslo.Get("healthcheck", key) }
	}
	var o Options
	if err := osloconf.Decode(c, &o, file); err != nil {
		return nil, err
	}
	ch, err := New(o, opts...)
	if err != nil {
		var oe *OptionError
		if errors.As(err, &oe) {
			return nil, c.Errorf(oe.Key, "%v", oe.Err)
		}
		return nil, c.Errorf("", "%v", err)
	}
	return ch, nil
}

// OptionError is an invalid option found by [New]; Key names it.
type OptionError struct {
	Key string
	Err error
}

func (e *OptionError) Error() string { return e.Key + ": " + e.Err.Error() }
func (e *OptionError) Unwrap() error { return e.Err }

func optErr(key, format string, args ...any) error {
	return &OptionError{Key: key, Err: fmt.Errorf(format, args...)}
}

// Backend names accepted in the backends option.
const (
	BackendDisableByFile       = "disable_by_file"
	BackendDisableByFilesPorts = "disable_by_files_ports"
	BackendEnableByFiles       = "enable_by_files"
)

var backendNames = []string{BackendDisableByFile, BackendDisableByFilesPorts, BackendEnableByFiles}

// Checker is a built healthcheck. As an http.Handler it is the
// application; its Middleware method is the filter. It is immutable and
// safe for concurrent use.
type Checker struct {
	path          string
	detailed      bool
	ranges        []netip.Prefix
	ignoreProxied bool
	backends      []backend
	drain         *Drain
}

// New validates o and builds a Checker. Errors are *OptionError values
// naming the offending option.
func New(o Options, opts ...Option) (*Checker, error) {
	var s settings
	for _, f := range opts {
		f(&s)
	}
	ch := &Checker{
		path:          o.Path,
		detailed:      o.Detailed,
		ignoreProxied: o.IgnoreProxiedRequests,
		drain:         s.drain,
	}
	if !strings.HasPrefix(o.Path, "/") {
		return nil, optErr("path", "must start with \"/\", got %q", o.Path)
	}
	for _, r := range o.AllowedSourceRanges {
		p, err := parseRange(r)
		if err != nil {
			return nil, optErr("allowed_source_ranges", "%v", err)
		}
		ch.ranges = append(ch.ranges, p)
	}
	if o.Detailed && len(ch.ranges) == 0 {
		return nil, optErr("detailed", "detailed output requires allowed_source_ranges (it describes the service to whoever asks)")
	}
	seen := map[string]bool{}
	for _, name := range o.Backends {
		seen[name] = true
		switch name {
		case BackendDisableByFile:
			if o.DisableByFilePath == "" {
				return nil, optErr("disable_by_file_path", "required by backends = %s", name)
			}
			ch.backends = append(ch.backends, disableByFile{path: o.DisableByFilePath})
		case BackendDisableByFilesPorts:
			b := disableByFilesPorts{paths: map[int]string{}}
			for _, item := range o.DisableByFilePaths {
				port, path, ok := strings.Cut(item, ":")
				n, err := strconv.Atoi(strings.TrimSpace(port))
				if !ok || err != nil || n < 1 || n > 65535 || path == "" {
					return nil, optErr("disable_by_file_paths", "%q is not port:path", item)
				}
				b.paths[n] = path
			}
			if len(b.paths) == 0 {
				return nil, optErr("disable_by_file_paths", "required by backends = %s", name)
			}
			ch.backends = append(ch.backends, b)
		case BackendEnableByFiles:
			if len(o.EnableByFilePaths) == 0 {
				return nil, optErr("enable_by_file_paths", "required by backends = %s", name)
			}
			ch.backends = append(ch.backends, enableByFiles{paths: o.EnableByFilePaths})
		default:
			msg := fmt.Sprintf("unknown backend %q (known: %s)", name, strings.Join(backendNames, ", "))
			if s := pipeline.Suggest(name, backendNames); s != "" {
				msg = fmt.Sprintf("unknown backend %q; did you mean %q?", name, s)
			}
			return nil, &OptionError{Key: "backends", Err: errors.New(msg)}
		}
	}
	if seen[BackendDisableByFile] && seen[BackendEnableByFiles] {
		return nil, optErr("backends", "%s and %s cannot be used together", BackendEnableByFiles, BackendDisableByFile)
	}
	return ch, nil
}

// parseRange parses a CIDR ("10.0.0.0/8", host bits must be zero, as
// Python's ipaddress.ip_network) or a single address.
func parseRange(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a network: %v", s, err)
		}
		if p != p.Masked() {
			return netip.Prefix{}, fmt.Errorf("%q has host bits set (did you mean %s?)", s, p.Masked())
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an address or network", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// ReadsIdentityHeaders reports false: the health answer does not depend
// on the caller's identity (see pipeline.ReadsIdentityHeaders).
func (ch *Checker) ReadsIdentityHeaders() bool { return false }

// ServeHTTP answers r as the healthcheck application: every method and
// path routed to it gets the health answer, unless the source or proxy
// rules exclude the client (404).
func (ch *Checker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !ch.admit(r) {
		notFound(w, r)
		return
	}
	ch.answer(w, r)
}

// Middleware is the legacy filter: it answers requests whose full path
// equals the path option (and that the source and proxy rules admit) and
// hands everything else to next without allocating.
func (ch *Checker) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ch.matchPath(r) && ch.admit(r) {
			ch.answer(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// matchPath reports whether SCRIPT_NAME + PATH_INFO equals ch.path,
// without building the concatenation.
func (ch *Checker) matchPath(r *http.Request) bool {
	script := ""
	if st := pipeline.RequestFrom(r); st != nil {
		script = st.ScriptName
	}
	p := r.URL.Path
	return len(script)+len(p) == len(ch.path) &&
		strings.HasPrefix(ch.path, script) && ch.path[len(script):] == p
}

// admit applies allowed_source_ranges and ignore_proxied_requests.
func (ch *Checker) admit(r *http.Request) bool {
	if len(ch.ranges) > 0 {
		remote := r.RemoteAddr
		if st := pipeline.RequestFrom(r); st != nil {
			remote = st.RemoteAddr
		}
		a, ok := parseRemote(remote)
		if !ok {
			return false
		}
		in := false
		for _, p := range ch.ranges {
			if p.Contains(a) {
				in = true
				break
			}
		}
		if !in {
			return false
		}
	}
	if ch.ignoreProxied && proxied(r.Header) {
		return false
	}
	return true
}

// parseRemote reads a client address: "ip:port", "[v6]:port" or a bare
// address; IPv4-mapped IPv6 addresses are read as IPv4.
func parseRemote(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return netip.Addr{}, false
	}
	return a.WithZone("").Unmap(), true
}

var proxyHeaders = []string{"X-FORWARDED", "X-FORWARDED-PROTO", "X-FORWARDED-HOST", "X-FORWARDED-FOR", "X-FORWARDED-PREFIX"}

// proxied reports whether a non-empty X-Forwarded(-Proto|-Host|-For|-Prefix)
// header is present, in any case and with "_" read as "-" (the CGI view
// oslo checks).
func proxied(h http.Header) bool {
	for name, vals := range h {
		if len(name) < len("X-FORWARDED") || len(name) > len("X-FORWARDED-PREFIX") {
			continue
		}
		if len(vals) == 0 || (len(vals) == 1 && vals[0] == "") {
			continue
		}
		for _, p := range proxyHeaders {
			if len(p) == len(name) && cgiEqual(name, p) {
				return true
			}
		}
	}
	return false
}

// cgiEqual compares a header name with an upper-case, "-"-separated name,
// ignoring case and reading "_" as "-".
func cgiEqual(name, upper string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		} else if c == '_' {
			c = '-'
		}
		if c != upper[i] {
			return false
		}
	}
	return true
}

// serverPort is the port the request arrived on (WSGI SERVER_PORT): the
// listener's port, or else the Host header's, or else the scheme's default.
func serverPort(r *http.Request) int {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if t, ok := a.(*net.TCPAddr); ok {
			return t.Port
		}
		if ap, err := netip.ParseAddrPort(a.String()); err == nil {
			return int(ap.Port())
		}
	}
	if _, p, err := net.SplitHostPort(r.Host); err == nil {
		if n, err := strconv.Atoi(p); err == nil {
			return n
		}
	}
	if r.TLS != nil {
		return 443
	}
	return 80
}
