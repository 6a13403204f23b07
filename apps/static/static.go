// Package static is the static file application (Paste's
// egg:Paste#static, option document_root): it serves the files of one
// directory through an [os.Root], so that no request can read outside it,
// whether by "..", by encodings of it or by symbolic links.
//
// Rules, in order:
//
//   - Only GET and HEAD; other methods get 405 with Allow.
//   - The path served is the request's URL path after routing (the part a
//     urlmap consumed is not part of it). It is split on "/"; empty
//     segments are skipped; a segment that starts with "." (dotfiles,
//     ".", ".."), holds a NUL or a backslash, or more than 64 segments,
//     give 404.
//   - The file is opened through the root: a symlink that leads outside
//     it gives 404, as does anything that is neither a regular file nor a
//     directory. A symlink on the path whose target names a dotfile or dot
//     directory gives 404 too, and with follow_symlinks = false every
//     symlink does (one lstat per path segment).
//   - A directory asked for without a trailing slash is redirected (301)
//     to the canonical path with one; with it, the index file (index.html)
//     is served, else a listing when listing = true, else 404.
//   - Files go through [http.ServeContent]: Range, If-Modified-Since,
//     If-None-Match with an ETag made of size and modification time.
//
// 404 bodies are fixed: they never echo the request path.
package static

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vietstack/vietstack-api/pipeline"
)

// Options are the options of the static app.
type Options struct {
	DocumentRoot string        `ini:"document_root" doc:"the directory to serve (required); nothing outside it is ever read"`
	Index        string        `ini:"index" default:"index.html" doc:"file served for a directory path ending in /; empty disables"`
	Listing      bool          `ini:"listing" default:"false" doc:"list a directory without an index file (dotfiles are never listed)"`
	CacheMaxAge  time.Duration `ini:"cache_max_age" default:"0" doc:"Cache-Control max-age for served files; 0 sends no Cache-Control"`
	Symlinks     bool          `ini:"follow_symlinks" default:"true" doc:"follow symbolic links that stay inside the root and whose targets name no dotfile; false refuses every link"`
}

// Validate checks the options that need more than parsing.
func (o *Options) Validate() error {
	if o.DocumentRoot == "" {
		return errors.New("document_root is required")
	}
	if strings.ContainsAny(o.Index, "/\\") || strings.HasPrefix(o.Index, ".") {
		return fmt.Errorf("index %q must be a plain file name", o.Index)
	}
	return nil
}

// Register registers the static app factory in reg under the name
// "static", with Paste's spellings as aliases.
func Register(reg *pipeline.Registry) {
	reg.App("static", Factory, pipeline.Info{
		Doc:     "serves one directory through os.Root: no escape, no dotfiles, index.html, listing only when enabled, Range/ETag",
		Options: Options{},
	})
	reg.Alias("egg:Paste#static", "static")
	reg.Alias("paste.urlparser:make_static", "static")
}

// Factory is the static AppFactory: it opens document_root and closes it
// when the generation is retired.
func Factory(ctx context.Context, c *pipeline.Config) (http.Handler, error) {
	var o Options
	if err := c.Decode(&o); err != nil {
		return nil, err
	}
	h, err := New(o)
	if err != nil {
		return nil, c.Errorf("document_root", "%v", err)
	}
	c.OnClose(h.Close)
	return h, nil
}

// Handler serves a directory. It is safe for concurrent use.
type Handler struct {
	root     *os.Root
	index    string
	listing  bool
	symlinks bool
	cache    string
}

// New opens o.DocumentRoot and returns its handler; it fails when the
// directory cannot be opened.
func New(o Options) (*Handler, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(o.DocumentRoot)
	if err != nil {
		return nil, fmt.Errorf("document_root: %v", err)
	}
	h := &Handler{root: root, index: o.Index, listing: o.Listing, symlinks: o.Symlinks}
	if o.CacheMaxAge > 0 {
		h.cache = "public, max-age=" + strconv.FormatInt(int64(o.CacheMaxAge/time.Second), 10)
	}
	return h, nil
}

// Close closes the root directory. Requests still in flight get errors
// (served as 404).
func (h *Handler) Close() error { return h.root.Close() }

var (
	notFoundBody   = []byte(`{"error": {"code": 404, "title": "Not Found", "message": "The resource could not be found."}}` + "\n")
	notAllowedBody = []byte(`{"error": {"code": 405, "title": "Method Not Allowed", "message": "Use GET or HEAD."}}` + "\n")
	notFoundLen    = strconv.Itoa(len(notFoundBody))
	notAllowedLen  = strconv.Itoa(len(notAllowedBody))
)

func writeError(w http.ResponseWriter, r *http.Request, code int) {
	h := w.Header()
	body, n := notFoundBody, notFoundLen
	if code == http.StatusMethodNotAllowed {
		body, n = notAllowedBody, notAllowedLen
		h["Allow"] = []string{"GET, HEAD"}
	}
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{n}
	h["X-Content-Type-Options"] = []string{"nosniff"}
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// maxDepth bounds the segments of a servable path (symlink loops inside
// the root would otherwise make paths of any depth resolve).
const maxDepth = 64

// clean splits p into its segments, skipping empty ones; ok is false when
// a segment is not servable or there are too many.
func clean(p string) (segs []string, ok bool) {
	for _, s := range strings.Split(p, "/") {
		if s == "" {
			continue
		}
		if s[0] == '.' || strings.ContainsAny(s, "\x00\\") || len(segs) == maxDepth {
			return nil, false
		}
		segs = append(segs, s)
	}
	return segs, true
}

// ReadsIdentityHeaders reports false: files are served alike to every
// caller (see pipeline.ReadsIdentityHeaders).
func (h *Handler) ReadsIdentityHeaders() bool { return false }

// ServeHTTP serves the file or directory that r's path names.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeError(w, r, http.StatusMethodNotAllowed)
		return
	}
	segs, ok := clean(r.URL.Path)
	if !ok {
		writeError(w, r, http.StatusNotFound)
		return
	}
	name := "."
	if len(segs) > 0 {
		name = strings.Join(segs, "/")
	}
	if !h.linksOK(segs) {
		writeError(w, r, http.StatusNotFound)
		return
	}
	f, err := h.root.Open(name)
	if err != nil {
		writeError(w, r, http.StatusNotFound)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		writeError(w, r, http.StatusNotFound)
		return
	}
	switch {
	case fi.IsDir():
		if !strings.HasSuffix(r.URL.Path, "/") {
			h.redirectDir(w, r, segs)
			return
		}
		if h.index != "" {
			idx, err := h.root.Open(path.Join(name, h.index))
			if err == nil {
				defer idx.Close()
				if ii, err := idx.Stat(); err == nil && ii.Mode().IsRegular() {
					h.serveFile(w, r, idx, ii)
					return
				}
			}
		}
		if h.listing {
			h.list(w, r, f)
			return
		}
		writeError(w, r, http.StatusNotFound)
	case fi.Mode().IsRegular():
		h.serveFile(w, r, f, fi)
	default:
		writeError(w, r, http.StatusNotFound)
	}
}

// linksOK checks the symlinks on the path segs: with follow_symlinks off
// there must be none; with it on, none may point at a dot name. (Escapes
// from the root are os.Root's business.)
func (h *Handler) linksOK(segs []string) bool {
	name := strings.Join(segs, "/")
	end := 0
	for _, s := range segs {
		if end > 0 {
			end++ // the "/"
		}
		end += len(s)
		p := name[:end]
		fi, err := h.root.Lstat(p)
		if err != nil {
			return true // Open reports it
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			continue
		}
		if !h.symlinks {
			return false
		}
		target, err := h.root.Readlink(p)
		if err != nil {
			return false
		}
		for _, t := range strings.Split(target, "/") {
			if t != "." && t != ".." && strings.HasPrefix(t, ".") {
				return false
			}
		}
	}
	return true
}

func (h *Handler) serveFile(w http.ResponseWriter, r *http.Request, f *os.File, fi fs.FileInfo) {
	hdr := w.Header()
	hdr["Etag"] = []string{`"` + strconv.FormatInt(fi.ModTime().UnixNano(), 16) + "-" + strconv.FormatInt(fi.Size(), 16) + `"`}
	hdr["X-Content-Type-Options"] = []string{"nosniff"}
	if h.cache != "" {
		hdr["Cache-Control"] = []string{h.cache}
	}
	http.ServeContent(w, r, fi.Name(), fi.ModTime(), f)
}

// redirectDir sends a directory asked for without its trailing slash to
// the canonical path with one. The location is built from the routed
// script name and the cleaned segments, so it always starts with one "/".
func (h *Handler) redirectDir(w http.ResponseWriter, r *http.Request, segs []string) {
	var b strings.Builder
	if st := pipeline.RequestFrom(r); st != nil {
		b.WriteString((&url.URL{Path: st.ScriptName}).EscapedPath())
	}
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	b.WriteByte('/')
	loc := b.String()
	if strings.HasPrefix(loc, "//") { // never a scheme-relative URL
		loc = "/" + strings.TrimLeft(loc, "/")
	}
	w.Header()["Location"] = []string{loc}
	w.WriteHeader(http.StatusMovedPermanently)
}

// maxListing bounds the entries a listing shows.
const maxListing = 10000

func (h *Handler) list(w http.ResponseWriter, r *http.Request, dir *os.File) {
	entries, err := dir.ReadDir(maxListing)
	if err != nil && len(entries) == 0 {
		writeError(w, r, http.StatusNotFound)
		return
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, ".") {
			continue
		}
		if e.IsDir() {
			n += "/"
		}
		names = append(names, n)
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index</title></head><body><ul>\n")
	for _, n := range names {
		b.WriteString(`<li><a href="`)
		b.WriteString(html.EscapeString((&url.URL{Path: "./" + n}).EscapedPath()))
		b.WriteString(`">`)
		b.WriteString(html.EscapeString(n))
		b.WriteString("</a></li>\n")
	}
	b.WriteString("</ul></body></html>\n")
	hdr := w.Header()
	hdr["Content-Type"] = []string{"text/html; charset=utf-8"}
	hdr["Content-Length"] = []string{strconv.Itoa(b.Len())}
	hdr["X-Content-Type-Options"] = []string{"nosniff"}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(b.String()))
	}
}
