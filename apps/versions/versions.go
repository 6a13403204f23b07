// Package versions is the version-discovery application: it answers with
// the OpenStack version document that clients (keystoneauth, the
// openstack CLI) read to pick an API version, built from ini options.
//
// At the root ("" or "/") it lists every version as {"versions": [...]},
// with 300 Multiple Choices when there are several (as nova, glance and
// cinder do) and 200 when there is one. At "/<id>" or "/<id>/" it answers
// 200 with {"version": {...}} for that version. Anything else is 404; a
// method other than GET or HEAD is 405.
//
// Each version's "self" link is absolute: base_url when set, else the
// request's scheme (as derived by http_proxy_to_wsgi) and Host plus the
// routed ScriptName, then "/<id>/" (or the version's own href).
package versions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vietstack/vietstack-api/pipeline"
)

// Version is one API version as the ini describes it.
type Version struct {
	ID         string // "v2.1"
	Status     string // CURRENT, SUPPORTED, DEPRECATED, EXPERIMENTAL
	Updated    string // RFC 3339, "2013-07-23T11:33:21Z"
	MinVersion string // microversion range; both empty when none
	MaxVersion string
	Href       string // path of the version below the base, default "/<id>/"
	MediaType  string // "application/vnd.openstack.compute+json;version=2.1"
}

// VersionList is the versions option: one version per line (or per ","),
// "ID STATUS [key=value ...]" with keys updated, min_version, version (the
// maximum microversion), href and media_type.
type VersionList []Version

// isVersionID reports whether s is a version id, "v" and one or more
// dot-separated runs of ASCII digits (the regexp ^v[0-9]+(\.[0-9]+)*$).
func isVersionID(s string) bool {
	rest, ok := strings.CutPrefix(s, "v")
	if !ok {
		return false
	}
	for _, part := range strings.Split(rest, ".") {
		if !isDigits(part) {
			return false
		}
	}
	return true
}

// isMicroversion reports whether s is "<major>.<minor>", two runs of ASCII
// digits (the regexp ^[0-9]+\.[0-9]+$).
func isMicroversion(s string) bool {
	major, minor, ok := strings.Cut(s, ".")
	return ok && isDigits(major) && isDigits(minor)
}

// isDigits reports whether s is one or more ASCII digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isStatus reports whether s is a version status of the document.
func isStatus(s string) bool {
	switch s {
	case "CURRENT", "SUPPORTED", "DEPRECATED", "EXPERIMENTAL", "STABLE":
		return true
	}
	return false
}

// UnmarshalText parses the versions option.
func (l *VersionList) UnmarshalText(b []byte) error {
	var out VersionList
	seen := map[string]bool{}
	for _, line := range strings.FieldsFunc(string(b), func(r rune) bool { return r == '\n' || r == ',' }) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) < 2 {
			return fmt.Errorf("version %q: want \"ID STATUS [key=value ...]\"", line)
		}
		v := Version{ID: f[0], Status: strings.ToUpper(f[1]), Updated: "2011-01-01T00:00:00Z"}
		if !isVersionID(v.ID) {
			return fmt.Errorf("version id %q: want v<major>[.<minor>]", v.ID)
		}
		if seen[v.ID] {
			return fmt.Errorf("version %s given twice", v.ID)
		}
		seen[v.ID] = true
		if !isStatus(v.Status) {
			return fmt.Errorf("version %s: status %q: want CURRENT, SUPPORTED, DEPRECATED, EXPERIMENTAL or STABLE", v.ID, f[1])
		}
		for _, kv := range f[2:] {
			k, val, ok := strings.Cut(kv, "=")
			if !ok || val == "" {
				return fmt.Errorf("version %s: %q: want key=value", v.ID, kv)
			}
			switch k {
			case "updated":
				if _, err := time.Parse(time.RFC3339, val); err != nil {
					return fmt.Errorf("version %s: updated %q: want RFC 3339 (2013-07-23T11:33:21Z)", v.ID, val)
				}
				v.Updated = val
			case "min_version", "version":
				if !isMicroversion(val) {
					return fmt.Errorf("version %s: %s %q: want <major>.<minor>", v.ID, k, val)
				}
				if k == "version" {
					v.MaxVersion = val
				} else {
					v.MinVersion = val
				}
			case "href":
				u, err := url.Parse(val)
				if err != nil || u.Scheme != "" || u.Host != "" || !strings.HasPrefix(val, "/") {
					return fmt.Errorf("version %s: href %q: want an absolute path", v.ID, val)
				}
				v.Href = val
			case "media_type":
				v.MediaType = val
			default:
				return fmt.Errorf("version %s: unknown key %q (want updated, min_version, version, href, media_type)", v.ID, k)
			}
		}
		if (v.MinVersion == "") != (v.MaxVersion == "") {
			return fmt.Errorf("version %s: give both min_version and version, or neither", v.ID)
		}
		if v.Href == "" {
			v.Href = "/" + v.ID + "/"
		}
		out = append(out, v)
	}
	*l = out
	return nil
}

// Options are the options of the versions app.
type Options struct {
	Versions  VersionList `ini:"versions" doc:"one version per line: ID STATUS [updated=RFC3339] [min_version=X.Y version=X.Y] [href=/path/] [media_type=TYPE] (required)"`
	BaseURL   string      `ini:"base_url" doc:"public base URL for links (like oslo's public_endpoint); default: the request's scheme, Host and script name"`
	MediaBase string      `ini:"media_type_base" default:"application/vnd.openstack" doc:"media type stem: a version without media_type gets STEM+json;version=MAJOR"`
	Describe  string      `ini:"describedby" doc:"URL of the API reference added to every version as a describedby link"`
}

// Validate checks the options that need more than parsing.
func (o *Options) Validate() error {
	if len(o.Versions) == 0 {
		return errors.New("versions is required")
	}
	if o.BaseURL != "" {
		u, err := url.Parse(o.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("base_url %q: want http(s)://host[:port][/path]", o.BaseURL)
		}
	}
	return nil
}

// Register registers the versions app factory in reg under the name
// "versions" (use = egg:vietstack#versions).
func Register(reg *pipeline.Registry) {
	reg.App("versions", Factory, pipeline.Info{
		Doc:     "OpenStack version discovery: 300 with every version at the root (200 when one), 200 per version at /<id>/",
		Options: Options{},
	})
}

// Factory is the versions AppFactory.
func Factory(ctx context.Context, c *pipeline.Config) (http.Handler, error) {
	var o Options
	if err := c.Decode(&o); err != nil {
		return nil, err
	}
	return New(o)
}

type link struct {
	Rel  string `json:"rel"`
	Href string `json:"href"`
	Type string `json:"type,omitempty"`
}

type mediaType struct {
	Base string `json:"base"`
	Type string `json:"type"`
}

type versionDoc struct {
	ID         string      `json:"id"`
	Status     string      `json:"status"`
	Version    string      `json:"version"`
	MinVersion string      `json:"min_version"`
	Updated    string      `json:"updated"`
	Links      []link      `json:"links"`
	MediaTypes []mediaType `json:"media-types"`
}

// Handler serves the version documents. It is safe for concurrent use.
type Handler struct {
	versions []Version
	base     string // fixed base URL without trailing "/", or ""
	media    string
	describe string
	// Pre-rendered documents when base is fixed.
	list    []byte
	single  map[string][]byte
	listSts int
}

// New builds the handler from validated options.
func New(o Options) (*Handler, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	h := &Handler{versions: o.Versions, base: strings.TrimSuffix(o.BaseURL, "/"), media: o.MediaBase, describe: o.Describe,
		listSts: http.StatusOK}
	if len(o.Versions) > 1 {
		h.listSts = http.StatusMultipleChoices
	}
	if h.base != "" {
		h.list, h.single = h.render(h.base)
	}
	return h, nil
}

func (h *Handler) doc(v Version, base string) versionDoc {
	mt := v.MediaType
	if mt == "" {
		major, _, _ := strings.Cut(strings.TrimPrefix(v.ID, "v"), ".")
		mt = h.media + "+json;version=" + major
	}
	d := versionDoc{ID: v.ID, Status: v.Status, Version: v.MaxVersion, MinVersion: v.MinVersion, Updated: v.Updated,
		Links:      []link{{Rel: "self", Href: base + v.Href}},
		MediaTypes: []mediaType{{Base: "application/json", Type: mt}}}
	if h.describe != "" {
		d.Links = append(d.Links, link{Rel: "describedby", Type: "text/html", Href: h.describe})
	}
	return d
}

func (h *Handler) render(base string) ([]byte, map[string][]byte) {
	docs := make([]versionDoc, len(h.versions))
	single := make(map[string][]byte, len(h.versions))
	for i, v := range h.versions {
		docs[i] = h.doc(v, base)
		b, _ := json.Marshal(map[string]versionDoc{"version": docs[i]})
		single[v.ID] = append(b, '\n')
	}
	b, _ := json.Marshal(map[string][]versionDoc{"versions": docs})
	return append(b, '\n'), single
}

var (
	notFoundBody   = []byte(`{"error": {"code": 404, "title": "Not Found", "message": "The resource could not be found."}}` + "\n")
	notAllowedBody = []byte(`{"error": {"code": 405, "title": "Method Not Allowed", "message": "Use GET or HEAD."}}` + "\n")
)

func write(w http.ResponseWriter, r *http.Request, code int, body []byte) {
	hdr := w.Header()
	hdr["Content-Type"] = []string{"application/json"}
	hdr["Content-Length"] = []string{strconv.Itoa(len(body))}
	hdr["X-Content-Type-Options"] = []string{"nosniff"}
	if code == http.StatusMethodNotAllowed {
		hdr["Allow"] = []string{"GET, HEAD"}
	}
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// ReadsIdentityHeaders reports false: the version documents are the same
// for every caller (see pipeline.ReadsIdentityHeaders).
func (h *Handler) ReadsIdentityHeaders() bool { return false }

// ServeHTTP answers the version documents.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		write(w, r, http.StatusMethodNotAllowed, notAllowedBody)
		return
	}
	p := r.URL.Path
	list, single := h.list, h.single
	if h.base == "" {
		list, single = h.render(h.requestBase(r))
	}
	if p == "" || p == "/" {
		write(w, r, h.listSts, list)
		return
	}
	id := strings.TrimSuffix(strings.TrimPrefix(p, "/"), "/")
	if b, ok := single[id]; ok {
		write(w, r, http.StatusOK, b)
		return
	}
	write(w, r, http.StatusNotFound, notFoundBody)
}

// requestBase is scheme://host + script name for a request.
func (h *Handler) requestBase(r *http.Request) string {
	scheme, script := "http", ""
	if r.TLS != nil {
		scheme = "https"
	}
	if st := pipeline.RequestFrom(r); st != nil {
		scheme, script = st.Scheme, st.ScriptName
	}
	u := url.URL{Scheme: scheme, Host: r.Host, Path: script}
	return strings.TrimSuffix(u.String(), "/")
}
