// Package basicauth provides the "basic_auth" filter, the Go counterpart of
// oslo.middleware's BasicAuthMiddleware: HTTP Basic authentication against
// an Apache htpasswd file.
//
// Only bcrypt entries ($2y$ from `htpasswd -B`, $2a$, $2b$) are accepted,
// as upstream. The file is read and checked when the pipeline is built
// (again on every reload): an entry with another hash ({SHA}, $apr1$ MD5,
// crypt), a malformed line, a malformed bcrypt hash or a user listed twice
// is a load error naming file:line. Blank lines and lines starting with
// "#" are skipped.
//
// Per request the filter strips every client-sent identity header, reads
// and removes the Authorization header, and checks the password with
// bcrypt. Success sets the identity headers as noauth does
// (X-Identity-Status: Confirmed, X-User-Id and X-User-Name set to the user
// name, X-User, empty X-Roles, X-Is-Admin-Project: False) and the request's
// pipeline.Identity. Failure answers 401 with oslo's JSON body and
// WWW-Authenticate: Basic realm="<realm>" (oslo sends no challenge; browsers
// and curl need one).
//
// bcrypt is slow on purpose (about 60 ms at cost 10), which makes it a CPU
// lever for an attacker: successful checks are cached briefly (keyed by a
// SHA-256 of user and password, never the password), and at most
// max_concurrent_checks verifications run at once. An unknown user costs
// a bcrypt comparison against a dummy hash of the file's highest cost, so
// response times do not tell which users exist. Passwords longer than 72
// bytes, which bcrypt would silently truncate, are refused.
package basicauth

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/vietstack/vietstack-api/filters/identity"
	"github.com/vietstack/vietstack-api/filters/osloconf"
	"github.com/vietstack/vietstack-api/pipeline"
	"github.com/vietstack/vietstack-api/pipeline/paste"
)

// Options configure the basic_auth filter.
type Options struct {
	UserFile            string        `ini:"http_basic_auth_user_file" default:"/etc/htpasswd" doc:"htpasswd file with bcrypt entries (htpasswd -B); relative to the paste file; also read from [oslo_middleware] of the oslo.config file"`
	Realm               string        `ini:"realm" default:"OpenStack" doc:"realm of the WWW-Authenticate: Basic challenge"`
	CacheTime           time.Duration `ini:"cache_time" default:"10s" doc:"how long a successful check is remembered (bcrypt costs ~60 ms); 0 disables"`
	CacheMaxEntries     int           `ini:"cache_max_entries" default:"1024" doc:"bound on remembered successful checks"`
	MaxConcurrentChecks int           `ini:"max_concurrent_checks" default:"0" doc:"bcrypt verifications running at once; 0 means half the CPUs, at least 1"`
	OsloConfigProject   string        `ini:"oslo_config_project" doc:"read [oslo_middleware] http_basic_auth_user_file from this project's oslo.config file"`
	OsloConfigFile      string        `ini:"oslo_config_file" doc:"read [oslo_middleware] http_basic_auth_user_file from this oslo.config file"`

	_ struct{} `ini:"oslo_config_program,ignore" doc:"oslo.config program name; ignored"`
}

// Aliases are oslo.middleware's spellings of BasicAuthMiddleware.
var Aliases = []string{
	"egg:oslo.middleware#basic_auth",
	"oslo_middleware:BasicAuthMiddleware.factory",
	"oslo_middleware.basic_auth:BasicAuthMiddleware.factory",
}

// Register registers "basic_auth" and its aliases in reg.
func Register(reg *pipeline.Registry) {
	reg.Filter("basic_auth", Factory, pipeline.Info{
		Doc:     "oslo BasicAuthMiddleware: HTTP Basic against an htpasswd file (bcrypt only); sets the identity headers, 401 otherwise",
		Options: Options{},
	})
	for _, a := range Aliases {
		reg.Alias(a, "basic_auth")
	}
}

// Factory is the "basic_auth" FilterFactory.
func Factory(_ context.Context, c *pipeline.Config) (pipeline.Middleware, error) {
	var o Options
	if err := c.Decode(&o); err != nil {
		return nil, err
	}
	key := "http_basic_auth_user_file"
	if _, set := c.Local[key]; !set {
		if err := fromOslo(c, &o); err != nil {
			return nil, err
		}
	}
	if o.UserFile != "" && !strings.HasPrefix(o.UserFile, "/") && c.Global["here"] != "" {
		o.UserFile = filepath.Join(c.Global["here"], o.UserFile)
	}
	if err := o.check(); err != nil {
		return nil, c.Errorf(err.key, "%s", err.msg)
	}
	users, err := ReadHtpasswd(o.UserFile)
	if err != nil {
		var list paste.List
		if errors.As(err, &list) {
			return nil, list
		}
		return nil, c.Errorf(key, "%v", err)
	}
	return New(o, users)
}

// fromOslo takes http_basic_auth_user_file from [oslo_middleware] of the
// oslo.config file, when one is named.
func fromOslo(c *pipeline.Config, o *Options) error {
	file, key := o.OsloConfigFile, "oslo_config_file"
	if file == "" && o.OsloConfigProject == "" {
		file = c.Global["oslo_config_file"]
	} else if file == "" {
		key = "oslo_config_project"
	}
	path, err := osloconf.Resolve(file, o.OsloConfigProject, c.Global["here"])
	if err != nil {
		return c.Errorf(key, "%v", err)
	}
	if path == "" {
		return nil
	}
	f, err := osloconf.Read(path)
	if err != nil {
		var list paste.List
		if errors.As(err, &list) {
			return list
		}
		return c.Errorf(key, "reading the oslo.config file: %v", err)
	}
	v, ok, err := f.Lookup("oslo_middleware", "http_basic_auth_user_file")
	if err != nil {
		return err
	}
	if ok {
		o.UserFile = v.Value
	}
	return nil
}

type optError struct{ key, msg string }

func (o *Options) check() *optError {
	switch {
	case o.UserFile == "":
		return &optError{"http_basic_auth_user_file", "required"}
	case o.Realm == "" || strings.ContainsAny(o.Realm, "\"\\\r\n") || len(o.Realm) > 128:
		return &optError{"realm", "must be 1 to 128 characters without quotes or backslashes"}
	case o.CacheMaxEntries < 1 || o.CacheMaxEntries > 1_000_000:
		return &optError{"cache_max_entries", "must be between 1 and 1000000"}
	case o.CacheTime > time.Hour:
		return &optError{"cache_time", "must be at most an hour"}
	case o.MaxConcurrentChecks < 0:
		return &optError{"max_concurrent_checks", "must not be negative"}
	}
	return nil
}

// Users are the entries of an htpasswd file: user name to bcrypt hash.
type Users map[string][]byte

// maxFileSize bounds an htpasswd file.
const maxFileSize = 16 << 20

// ReadHtpasswd reads an htpasswd file of bcrypt entries. Problems with
// entries are returned together as a paste.List, each at its file:line.
func ReadHtpasswd(path string) (Users, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if fi.Size() > maxFileSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxFileSize)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	users := Users{}
	lineOf := map[string]int{}
	var errs paste.List
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxFileSize)
	n := 0
	for sc.Scan() {
		n++
		pos := paste.Pos{File: path, Line: n}
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		switch {
		case !ok:
			errs = append(errs, paste.Errorf(pos, "", "", "", "malformed line: want user:bcrypt-hash (htpasswd -B)"))
			continue
		case user == "" || !printable(user):
			errs = append(errs, paste.Errorf(pos, "", "", "", "malformed line: the user name is empty or not printable"))
			continue
		}
		if prev, dup := lineOf[user]; dup {
			errs = append(errs, paste.Errorf(pos, "", "", "", "user %q is already defined at line %d", user, prev))
			continue
		}
		if kind := hashKind(hash); kind != "" {
			errs = append(errs, paste.Errorf(pos, "", "", "", "user %q: %s hashes are not supported; only bcrypt ($2y$, made with htpasswd -B)", user, kind))
			continue
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			errs = append(errs, paste.Errorf(pos, "", "", "", "user %q: malformed bcrypt hash", user))
			continue
		}
		users[user] = []byte(hash)
		lineOf[user] = n
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if len(users) == 0 {
		return nil, fmt.Errorf("%s holds no users", path)
	}
	return users, nil
}

// hashKind names a hash that is not bcrypt, or returns "" for bcrypt.
func hashKind(h string) string {
	switch {
	case strings.HasPrefix(h, "$2y$"), strings.HasPrefix(h, "$2a$"), strings.HasPrefix(h, "$2b$"):
		return ""
	case strings.HasPrefix(h, "$apr1$"):
		return "$apr1$ (Apache MD5)"
	case strings.HasPrefix(h, "{SHA}"):
		return "{SHA} (SHA-1)"
	case strings.HasPrefix(h, "$1$"):
		return "$1$ (MD5-crypt)"
	case strings.HasPrefix(h, "$5$"), strings.HasPrefix(h, "$6$"):
		return "SHA-crypt"
	case h == "":
		return "empty"
	case !strings.HasPrefix(h, "$"):
		return "crypt or plain-text"
	}
	return "unknown"
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// maxPassword is bcrypt's input limit; longer passwords would be
// truncated silently, so they are refused.
const maxPassword = 72

// Filter is a configured basic_auth filter.
type Filter struct {
	users     Users
	dummy     []byte // hashed compare target for unknown users
	challenge []string
	sem       chan struct{}
	cacheTTL  time.Duration
	cacheMax  int

	mu    sync.Mutex
	cache map[[sha256.Size]byte]time.Time
}

// New returns the basic_auth middleware for o and users (see
// ReadHtpasswd); o.UserFile is not read.
func New(o Options, users Users) (pipeline.Middleware, error) {
	f, err := newFilter(o, users)
	if err != nil {
		return nil, err
	}
	return func(next http.Handler) http.Handler {
		return &handler{f: f, next: next, headers: pipeline.ReadsIdentityHeaders(next)}
	}, nil
}

func newFilter(o Options, users Users) (*Filter, error) {
	if o.Realm == "" {
		o.Realm = "OpenStack"
	}
	if o.CacheMaxEntries == 0 {
		o.CacheMaxEntries = 1024
	}
	if err := o.check(); err != nil && err.key != "http_basic_auth_user_file" {
		return nil, errors.New(err.key + ": " + err.msg)
	}
	if len(users) == 0 {
		return nil, errors.New("no users")
	}
	cost := bcrypt.MinCost
	for _, h := range users {
		if c, err := bcrypt.Cost(h); err == nil && c > cost {
			cost = c
		}
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte(rand.Text()), cost)
	if err != nil {
		return nil, err
	}
	n := o.MaxConcurrentChecks
	if n == 0 {
		n = max(1, runtime.GOMAXPROCS(0)/2)
	}
	return &Filter{
		users: users, dummy: dummy,
		challenge: []string{`Basic realm="` + o.Realm + `"`},
		sem:       make(chan struct{}, n),
		cacheTTL:  o.CacheTime, cacheMax: o.CacheMaxEntries,
		cache: map[[sha256.Size]byte]time.Time{},
	}, nil
}

type handler struct {
	f    *Filter
	next http.Handler
	// headers: next may read identity headers (else only the request
	// state's Identity carries the caller).
	headers bool
}

// The messages of oslo's 401 answers.
const (
	msgUnauthorized = "This server could not verify that you are authorized to access the document you requested. Either you supplied the wrong credentials (e.g., bad password), or your browser does not understand how to supply the credentials required."
	msgBadHeader    = "Could not parse Authorization header"
	msgBadToken     = "Could not decode authorization token"
	msgBadType      = "Unsupported authorization type"
)

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	identity.Strip(r)
	auth := r.Header.Get("Authorization")
	delete(r.Header, "Authorization") // oslo pops it: the app never sees the password
	if auth == "" {
		h.f.unauthorized(w, msgUnauthorized)
		return
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(auth), " ")
	if !ok {
		h.f.unauthorized(w, msgBadHeader)
		return
	}
	if !strings.EqualFold(scheme, "basic") {
		h.f.unauthorized(w, msgBadType)
		return
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(strings.TrimSpace(token))
	if err != nil {
		h.f.unauthorized(w, msgBadToken)
		return
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok {
		h.f.unauthorized(w, msgBadToken)
		return
	}
	if !h.f.verify(r.Context(), user, pass) {
		h.f.unauthorized(w, msgUnauthorized)
		return
	}
	if h.headers {
		identity.Set(r, &pipeline.Identity{UserID: user, UserName: user})
	} else {
		identity.Record(r, &pipeline.Identity{UserID: user, UserName: user}, "")
	}
	h.next.ServeHTTP(w, r)
}

// ReadsIdentityHeaders reports false: the filter strips every identity
// header that reaches it, so nothing after it reads one written before it
// (see pipeline.ReadsIdentityHeaders).
func (h *handler) ReadsIdentityHeaders() bool { return false }

// verify checks user's password: from the cache of recent successes, else
// with bcrypt (against a dummy hash for an unknown user, at the same cost).
func (f *Filter) verify(ctx context.Context, user, pass string) bool {
	if len(pass) > maxPassword || len(user) > 256 {
		return false
	}
	key := sha256.Sum256([]byte(user + "\x00" + pass))
	now := time.Now()
	if f.cacheTTL > 0 {
		f.mu.Lock()
		until, ok := f.cache[key]
		f.mu.Unlock()
		if ok && now.Before(until) {
			return true
		}
	}
	hash, known := f.users[user]
	if !known {
		hash = f.dummy
	}
	select {
	case f.sem <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	err := bcrypt.CompareHashAndPassword(hash, []byte(pass))
	<-f.sem
	if err != nil || !known {
		return false
	}
	if f.cacheTTL > 0 {
		f.mu.Lock()
		if len(f.cache) >= f.cacheMax {
			for k, until := range f.cache {
				if !now.Before(until) || len(f.cache) >= f.cacheMax {
					delete(f.cache, k)
				}
			}
		}
		f.cache[key] = now.Add(f.cacheTTL)
		f.mu.Unlock()
	}
	return true
}

// unauthorized answers 401 as oslo does (JSON, compact), with the Basic
// challenge.
func (f *Filter) unauthorized(w http.ResponseWriter, msg string) {
	body := `{"error":{"message":"` + msg + `","code":401}}`
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Www-Authenticate"] = f.challenge
	h["Content-Length"] = []string{fmt.Sprint(len(body))}
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write([]byte(body))
}
