// Package cors is the cors filter, the Go counterpart of oslo.middleware's
// CORS: it answers CORS preflight requests and decorates the responses to
// allowed cross-origin requests, with oslo's exact header choices.
//
// It differs from oslo in one deliberate way: allowed_origin = * together
// with allow_credentials = true (oslo's default) is refused at load time,
// because browsers reject that pair and the tempting fix (reflecting any
// Origin) would expose every user's credentials to every site.
package cors

import (
	"context"
	"fmt"
	"github.com/vietstack/vietstack-api/filters/osloconf"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/vietstack/vietstack-api/pipeline"
)

// DefaultMethods is oslo's default allow_methods.
var DefaultMethods = []string{"OPTIONS", "GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "PATCH"}

// simpleHeaders are the request headers every preflight may name
// (compared case-insensitively), as oslo lists them.
var simpleHeaders = []string{"Accept", "Accept-Language", "Content-Type", "Cache-Control",
	"Content-Language", "Expires", "Last-Modified", "Pragma"}

// Options are the options of the cors filter. Each is read, as oslo does,
// from the section (or the global conf), else from the [cors] group of the
// oslo.config file named by oslo_config_project / oslo_config_file, else
// from the project's defaults (nova's set_defaults when the project is
// nova), else the default below. Deprecated [cors.NAME] groups of that file
// add origins that inherit the [cors] values.
type Options struct {
	AllowedOrigin    []string `ini:"allowed_origin" doc:"origins allowed to make cross-origin requests, exact match (scheme://host[:port]); * allows any (not with allow_credentials)"`
	AllowCredentials bool     `ini:"allow_credentials" default:"true" doc:"send Access-Control-Allow-Credentials: true"`
	ExposeHeaders    []string `ini:"expose_headers" doc:"response headers a browser may show the calling script"`
	MaxAge           int      `ini:"max_age" default:"3600" doc:"seconds a browser may cache a preflight answer; 0 sends no Access-Control-Max-Age"`
	AllowMethods     []string `ini:"allow_methods" default:"OPTIONS,GET,HEAD,POST,PUT,DELETE,TRACE,PATCH" doc:"methods a preflight may ask for (case-sensitive)"`
	AllowHeaders     []string `ini:"allow_headers" doc:"request headers a preflight may ask for, besides the simple ones"`

	OsloConfigProject string `ini:"oslo_config_project" doc:"oslo.config project whose config file supplies the [cors] options"`
	OsloConfigFile    string `ini:"oslo_config_file" doc:"the oslo.config file to read instead of the project's standard ones"`
	OsloConfigProgram string `ini:"oslo_config_program" doc:"oslo.config program name (an extra PROGRAM.conf is searched)"`
}

// projectDefaults are the CORS defaults projects set in code with
// cors.set_defaults, applied when oslo_config_project names the project
// and an option is set nowhere.
var projectDefaults = map[string]map[string][]string{
	"nova": {
		"allow_headers": {"X-Auth-Token", "X-Openstack-Request-Id", "X-Identity-Status", "X-Roles",
			"X-Service-Catalog", "X-User-Id", "X-Tenant-Id", "X-OpenStack-Nova-API-Version", "OpenStack-API-Version"},
		"expose_headers": {"X-Auth-Token", "X-Openstack-Request-Id", "X-Subject-Token", "X-Service-Token",
			"X-OpenStack-Nova-API-Version", "OpenStack-API-Version"},
		"allow_methods": {"GET", "PUT", "POST", "DELETE", "PATCH"},
	},
}

// Register registers the cors filter in reg with every Python spelling of
// oslo's CORS middleware.
func Register(reg *pipeline.Registry) {
	reg.Filter("cors", New, pipeline.Info{
		Doc:     "oslo CORS: preflight answers and Access-Control-* headers for allowed origins",
		Options: Options{},
	})
	for _, a := range []string{
		"egg:oslo.middleware#cors",
		"oslo_middleware.cors:filter_factory",
		"oslo_middleware:CORS.factory",
		"oslo_middleware.cors:CORS.factory",
	} {
		reg.Alias(a, "cors")
	}
}

// Origin is the CORS policy of one allowed origin (the options of the
// same names).
type Origin struct {
	AllowCredentials bool     // send Access-Control-Allow-Credentials: true
	ExposeHeaders    []string // Access-Control-Expose-Headers on actual requests
	MaxAge           int      // Access-Control-Max-Age on preflights; 0 omits it
	AllowMethods     []string // methods a preflight may ask for, case-sensitive
	AllowHeaders     []string // request headers a preflight may ask for, besides the simple ones
}

// New is the cors FilterFactory.
func New(ctx context.Context, c *pipeline.Config) (pipeline.Middleware, error) {
	conf := osloconf.Merged(c)
	_, hasOrigin := conf["allowed_origin"]
	project := strings.TrimSpace(conf["oslo_config_project"])
	oslo, err := osloconf.Load(c)
	if err != nil {
		return nil, err
	}
	var o Options
	if err := osloconf.Decode(c, &o, func(key string) (string, string, bool, error) { return oslo.Get("cors", key) }); err != nil {
		return nil, err
	}
	if !hasOrigin && project == "" {
		return nil, c.Errorf("", "allowed_origin or oslo_config_project is required")
	}
	for key, def := range projectDefaults[project] {
		_, inConf := conf[key]
		_, _, inFile, _ := oslo.Get("cors", key)
		if !inConf && !inFile {
			v := slices.Clone(def)
			switch key {
			case "allow_headers":
				o.AllowHeaders = v
			case "expose_headers":
				o.ExposeHeaders = v
			case "allow_methods":
				o.AllowMethods = v
			}
		}
	}
	main := Origin{o.AllowCredentials, o.ExposeHeaders, o.MaxAge, o.AllowMethods, o.AllowHeaders}
	if key, err := check(o.AllowedOrigin, main); err != nil {
		if _, inConf := conf[key]; !inConf && oslo != nil {
			_, where, _, _ := oslo.Get("cors", key)
			return nil, c.Errorf("oslo_config_project", "%s: %v", where, err)
		}
		return nil, c.Errorf(key, "%v", err)
	}
	origins := map[string]Origin{}
	var order []string
	add := func(list []string, cfg Origin) {
		for _, org := range list {
			if _, dup := origins[org]; dup {
				continue // oslo keeps the first configuration of an origin
			}
			origins[org] = cfg
			order = append(order, org)
		}
	}
	add(o.AllowedOrigin, main)
	if oslo != nil {
		for _, sec := range oslo.Sections() {
			if !strings.HasPrefix(sec, "cors.") {
				continue
			}
			list, cfg, err := legacyGroup(oslo, sec, main)
			if err != nil {
				return nil, c.Errorf("oslo_config_project", "%v", err)
			}
			add(list, cfg)
		}
	}
	if len(origins) == 0 && c.Logger != nil {
		c.Logger.Warn("cors: no allowed_origin configured; the filter adds no CORS headers")
	}
	if c.Logger != nil {
		c.Logger.Debug("cors origins", "origins", order)
	}
	return Middleware(origins)
}

// legacyGroup reads a deprecated [cors.NAME] group: its allowed_origin,
// and the other options defaulting to the [cors] values.
func legacyGroup(o *osloconf.File, sec string, main Origin) ([]string, Origin, error) {
	cfg := main
	var list []string
	known := map[string]bool{"allowed_origin": true, "allow_credentials": true, "expose_headers": true,
		"max_age": true, "allow_methods": true, "allow_headers": true}
	for _, key := range o.Keys(sec) {
		if !known[key] {
			continue // oslo ignores options it has not registered
		}
		v, where, _, err := o.Get(sec, key)
		if err != nil {
			return nil, cfg, err
		}
		switch key {
		case "allowed_origin":
			list = pipeline.SplitList(v)
		case "allow_credentials":
			b, err := pipeline.ParseBool(v)
			if err != nil {
				return nil, cfg, fmt.Errorf("%s: %v", where, err)
			}
			cfg.AllowCredentials = b
		case "max_age":
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return nil, cfg, fmt.Errorf("%s: invalid integer %q", where, v)
			}
			cfg.MaxAge = n
		case "expose_headers":
			cfg.ExposeHeaders = pipeline.SplitList(v)
		case "allow_methods":
			cfg.AllowMethods = pipeline.SplitList(v)
		case "allow_headers":
			cfg.AllowHeaders = pipeline.SplitList(v)
		}
	}
	if key, err := check(list, cfg); err != nil {
		_, where, _, _ := o.Get(sec, key)
		return nil, cfg, fmt.Errorf("%s: %v", where, err)
	}
	return list, cfg, nil
}

// check validates one origin group and returns the offending option.
func check(origins []string, cfg Origin) (string, error) {
	for _, org := range origins {
		if org == "*" && cfg.AllowCredentials {
			return "allowed_origin", fmt.Errorf(`"*" together with allow_credentials = true (the default) is refused: browsers reject that pair; list the allowed origins, or set allow_credentials = false`)
		}
		for i := 0; i < len(org); i++ {
			if org[i] <= ' ' || org[i] >= 0x7f || org[i] == ',' {
				return "allowed_origin", fmt.Errorf("invalid origin %q", org)
			}
		}
	}
	if cfg.MaxAge < 0 {
		return "max_age", fmt.Errorf("must not be negative, got %d", cfg.MaxAge)
	}
	for key, list := range map[string][]string{"allow_methods": cfg.AllowMethods, "allow_headers": cfg.AllowHeaders, "expose_headers": cfg.ExposeHeaders} {
		for _, it := range list {
			if !isToken(it) {
				return key, fmt.Errorf("%q is not a valid name", it)
			}
		}
	}
	return "", nil
}

// policy is the compiled configuration of one allowed origin.
type policy struct {
	origin      string // what Access-Control-Allow-Origin says
	credentials bool
	expose      string // Access-Control-Expose-Headers, "" for none
	maxAge      string // Access-Control-Max-Age, "" for none
	methods     []string
	headers     map[string]bool // allowed request headers, upper-cased
}

// Middleware returns the CORS middleware for the allowed origins (the key
// "*" matches any origin that is not listed). It refuses "*" with
// credentials, like New.
func Middleware(origins map[string]Origin) (pipeline.Middleware, error) {
	f := &filter{origins: map[string]*policy{}}
	for org, cfg := range origins {
		if _, err := check([]string{org}, cfg); err != nil {
			return nil, err
		}
		p := &policy{origin: org, credentials: cfg.AllowCredentials, methods: slices.Clone(cfg.AllowMethods),
			headers: map[string]bool{}}
		if len(cfg.ExposeHeaders) > 0 {
			p.expose = strings.Join(cfg.ExposeHeaders, ",")
		}
		if cfg.MaxAge != 0 {
			p.maxAge = strconv.Itoa(cfg.MaxAge)
		}
		for _, h := range append(slices.Clone(cfg.AllowHeaders), simpleHeaders...) {
			p.headers[strings.ToUpper(h)] = true
		}
		if org == "*" {
			f.wildcard = p
		} else {
			f.origins[org] = p
		}
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			f.serve(w, r, next)
		})
	}, nil
}

type filter struct {
	origins  map[string]*policy
	wildcard *policy
}

// lookup returns the policy for the request's Origin, or nil.
func (f *filter) lookup(r *http.Request) *policy {
	vals, ok := r.Header["Origin"]
	if !ok || len(vals) == 0 {
		return nil
	}
	origin := vals[0]
	if len(vals) > 1 {
		origin = strings.Join(vals, ", ") // as a WSGI server joins them
	}
	if p, ok := f.origins[origin]; ok {
		return p
	}
	return f.wildcard
}

func (f *filter) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if r.Method == http.MethodOptions {
		f.preflight(w, r, next)
		return
	}
	p := f.lookup(r)
	if p == nil {
		next.ServeHTTP(w, r)
		return
	}
	// Behind a pipeline root, with no writer wrapper further out, a header
	// hook adds the headers where this filter's writer wrapper would.
	if st := pipeline.RequestFrom(r); st != nil {
		if id := st.AddHeaderHook(w, p, ""); id >= 0 {
			next.ServeHTTP(w, r)
			st.EndHeaderHook(id)
			return
		}
	}
	sw := &simpleWriter{ResponseWriter: w, p: p}
	next.ServeHTTP(sw, r)
	if !sw.decided {
		sw.decide() // nothing written: the server sends 200 with this header map
	}
}

// BeforeHeader adds the CORS headers of an actual request, with their
// values stored in the request state (pipeline.HeaderHook).
func (p *policy) BeforeHeader(s *pipeline.Request, h http.Header, _ string) {
	p.decorate(h, s.HeaderValue)
}

// decorate adds the CORS headers of an actual request to h, unless the
// application set its own Access-Control-Allow-Origin; value returns the
// one-element (capacity 1) value slice to store for a header.
func (p *policy) decorate(h http.Header, value func(string) []string) {
	if _, set := h["Access-Control-Allow-Origin"]; set {
		return
	}
	if v := h["Vary"]; len(v) > 0 {
		h["Vary"] = value(strings.Join(v, ",") + ",Origin")
	} else {
		h["Vary"] = value("Origin")
	}
	h["Access-Control-Allow-Origin"] = value(p.origin)
	if p.credentials {
		h["Access-Control-Allow-Credentials"] = value("true")
	}
	if p.expose != "" {
		h["Access-Control-Expose-Headers"] = value(p.expose)
	}
}

// simpleWriter adds the CORS headers of an actual request to the response
// when its header is written, for a filter whose writer is not the
// pipeline root's (see serve).
type simpleWriter struct {
	http.ResponseWriter
	p       *policy
	decided bool
	vals    [4]string // backing store of the header values it sets
	nvals   int
}

// value stores v in the writer's own storage and returns it as a value
// of capacity 1 (so a later Add reallocates instead of overwriting).
func (sw *simpleWriter) value(v string) []string {
	i := sw.nvals
	sw.nvals++
	sw.vals[i] = v
	return sw.vals[i : i+1 : i+1]
}

func (sw *simpleWriter) decide() {
	sw.decided = true
	sw.p.decorate(sw.ResponseWriter.Header(), sw.value)
}

// WriteHeader decorates the header map, then writes the status.
func (sw *simpleWriter) WriteHeader(code int) {
	if !sw.decided && code >= 200 {
		sw.decide()
	}
	sw.ResponseWriter.WriteHeader(code)
}

// Write decorates the header map if the status was not written yet.
func (sw *simpleWriter) Write(b []byte) (int, error) {
	if !sw.decided {
		sw.decide()
	}
	return sw.ResponseWriter.Write(b)
}

// Flush decorates the header map if needed and flushes.
func (sw *simpleWriter) Flush() {
	if !sw.decided {
		sw.decide()
	}
	http.NewResponseController(sw.ResponseWriter).Flush()
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (sw *simpleWriter) Unwrap() http.ResponseWriter { return sw.ResponseWriter }

// preflight lets the application answer the OPTIONS request, replaces a
// non-2xx answer by an empty 200 and, when every check passes, adds the
// preflight headers (oslo's _apply_cors_preflight_headers).
func (f *filter) preflight(w http.ResponseWriter, r *http.Request, next http.Handler) {
	pw := &preflightWriter{ResponseWriter: w, saved: w.Header().Clone()}
	pw.grant = f.checkPreflight(r)
	next.ServeHTTP(pw, r)
	if !pw.decided {
		pw.decide(http.StatusOK)
	}
}

// grant is what a successful preflight check allows.
type grant struct {
	p       *policy
	method  string
	headers string // requested headers joined by ",", "" for none
}

func (f *filter) checkPreflight(r *http.Request) *grant {
	p := f.lookup(r)
	if p == nil {
		return nil
	}
	mv, ok := r.Header["Access-Control-Request-Method"]
	if !ok {
		return nil
	}
	method := strings.Join(mv, ", ")
	if !slices.Contains(p.methods, method) {
		return nil
	}
	var requested []string
	for _, line := range r.Header["Access-Control-Request-Headers"] {
		for it := range strings.SplitSeq(line, ",") {
			it = strings.TrimSpace(it)
			if it == "" {
				continue
			}
			if !p.headers[strings.ToUpper(it)] {
				return nil
			}
			requested = append(requested, it)
		}
	}
	return &grant{p: p, method: method, headers: strings.Join(requested, ",")}
}

// preflightWriter turns the application's answer to OPTIONS into oslo's
// preflight answer when its header is written.
type preflightWriter struct {
	http.ResponseWriter
	saved   http.Header // the header map before the application ran
	grant   *grant
	decided bool
	dropped bool // the application's body is discarded
}

// decide settles the status and headers; it returns the status to send.
func (pw *preflightWriter) decide(code int) int {
	pw.decided = true
	h := pw.ResponseWriter.Header()
	if _, set := h["Access-Control-Allow-Origin"]; set {
		return code // the application knows better, as in oslo
	}
	if code < 200 || code >= 300 {
		// An empty 200 without Content-Type replaces the answer; what
		// outer filters put in the header map stays.
		for k := range h {
			delete(h, k)
		}
		for k, v := range pw.saved {
			h[k] = v
		}
		h["Content-Length"] = []string{"0"}
		code, pw.dropped = http.StatusOK, true
	}
	if g := pw.grant; g != nil {
		h["Vary"] = []string{"Origin"}
		h["Access-Control-Allow-Origin"] = []string{g.p.origin}
		if g.p.credentials {
			h["Access-Control-Allow-Credentials"] = []string{"true"}
		}
		if g.p.maxAge != "" {
			h["Access-Control-Max-Age"] = []string{g.p.maxAge}
		}
		h["Access-Control-Allow-Methods"] = []string{g.method}
		if g.headers != "" {
			h["Access-Control-Allow-Headers"] = []string{g.headers}
		}
	}
	return code
}

// WriteHeader writes the (possibly replaced) status.
func (pw *preflightWriter) WriteHeader(code int) {
	if pw.decided {
		if !pw.dropped {
			pw.ResponseWriter.WriteHeader(code)
		}
		return
	}
	if code < 200 {
		pw.ResponseWriter.WriteHeader(code)
		return
	}
	pw.ResponseWriter.WriteHeader(pw.decide(code))
}

// Write writes body bytes, or discards them when the answer was replaced.
func (pw *preflightWriter) Write(b []byte) (int, error) {
	if !pw.decided {
		pw.WriteHeader(http.StatusOK)
	}
	if pw.dropped {
		return len(b), nil
	}
	return pw.ResponseWriter.Write(b)
}

// Flush settles the answer if needed and flushes.
func (pw *preflightWriter) Flush() {
	if !pw.decided {
		pw.WriteHeader(http.StatusOK)
	}
	http.NewResponseController(pw.ResponseWriter).Flush()
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (pw *preflightWriter) Unwrap() http.ResponseWriter { return pw.ResponseWriter }

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}
