// Package gzip is the response-compression filter, built on
// github.com/klauspost/compress/gzhttp.
//
// A response is compressed when the client accepts gzip (or zstd, when
// enabled), the body reaches min_size (the Content-Length, or the bytes
// buffered before the first flush), it carries no Content-Encoding or
// Content-Range, its content type passes the content_types /
// except_content_types lists (by default everything but already-compressed
// media types), and the handler did not set "No-Gzip-Compression". Every
// response gets "Vary: Accept-Encoding"; compressed ones lose
// Accept-Ranges and have their ETag suffixed (or dropped, per etag).
// Upgrade requests (websockets) pass through untouched. Flush and Hijack
// reach the connection through the pipeline's response writer.
package gzip

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/klauspost/compress/gzhttp"

	"github.com/vietstack/vietstack-api/pipeline"
)

// Options are the options of the gzip filter.
type Options struct {
	MinSize      pipeline.ByteSize `ini:"min_size" default:"1KiB" doc:"smallest body compressed; smaller ones go out as they are"`
	Level        int               `ini:"level" default:"-1" doc:"gzip level 1 (fastest) to 9 (smallest), 0 none, -1 the library default"`
	ContentTypes []string          `ini:"content_types" doc:"compress only these media types (comma list); default: every type but already-compressed ones"`
	Except       []string          `ini:"except_content_types" doc:"never compress these media types (comma list); exclusive with content_types"`
	Zstd         bool              `ini:"zstd" default:"false" doc:"also offer zstd (preferred when the client accepts both equally)"`
	ETag         string            `ini:"etag" default:"suffix" doc:"ETag of compressed responses: suffix (append -gzip/-zstd), drop or keep (not RFC 7232 compliant)"`
	Jitter       int               `ini:"random_padding" default:"0" doc:"add 1..N bytes of content-dependent padding to compressed bodies against BREACH-style length attacks; 0 off"`
}

// Validate checks the options that need more than parsing.
func (o *Options) Validate() error {
	if o.MinSize < 0 {
		return errors.New("min_size must not be negative")
	}
	if o.Level < -1 || o.Level > 9 {
		return fmt.Errorf("level %d: want -1 to 9", o.Level)
	}
	if len(o.ContentTypes) > 0 && len(o.Except) > 0 {
		return errors.New("give content_types or except_content_types, not both")
	}
	switch o.ETag {
	case "suffix", "drop", "keep":
	default:
		return fmt.Errorf("etag %q: want suffix, drop or keep", o.ETag)
	}
	if o.Jitter < 0 || o.Jitter > 256 {
		return errors.New("random_padding must be between 0 and 256")
	}
	return nil
}

// Register registers the gzip filter factory in reg under the name "gzip"
// (use = egg:vietstack#gzip).
func Register(reg *pipeline.Registry) {
	reg.Filter("gzip", Factory, pipeline.Info{
		Doc:     "compresses responses with gzip (and optionally zstd) via gzhttp: min size, content types, Vary, ETag suffix",
		Options: Options{},
	})
}

// Factory is the gzip FilterFactory.
func Factory(ctx context.Context, c *pipeline.Config) (pipeline.Middleware, error) {
	var o Options
	if err := c.Decode(&o); err != nil {
		return nil, err
	}
	m, err := New(o)
	if err != nil {
		return nil, c.Errorf("", "%v", err)
	}
	return m, nil
}

// New returns the compression middleware for validated options.
func New(o Options) (pipeline.Middleware, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	opts := list(
		gzhttp.MinSize(int(o.MinSize)),
		gzhttp.CompressionLevel(o.Level),
		gzhttp.EnableZstd(o.Zstd),
	)
	if len(o.ContentTypes) > 0 {
		opts = append(opts, gzhttp.ContentTypes(o.ContentTypes))
	}
	if len(o.Except) > 0 {
		opts = append(opts, gzhttp.ExceptContentTypes(o.Except))
	}
	switch o.ETag {
	case "suffix":
		opts = append(opts, gzhttp.SuffixETag("-gzip"))
	case "drop":
		opts = append(opts, gzhttp.DropETag())
	}
	if o.Jitter > 0 {
		opts = append(opts, gzhttp.RandomJitter(o.Jitter, 0, false))
	}
	wrap, err := gzhttp.NewWrapper(opts...)
	if err != nil {
		return nil, err
	}
	return func(next http.Handler) http.Handler {
		gz := wrap(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, up := r.Header["Upgrade"]; up {
				next.ServeHTTP(w, r)
				return
			}
			if _, ok := w.(http.Flusher); !ok {
				w = controllerWriter{w}
			}
			gz.ServeHTTP(w, r)
		})
	}, nil
}

// list makes a slice of gzhttp's unexported option type.
func list[T any](xs ...T) []T { return xs }

// controllerWriter gives gzhttp, which type-asserts http.Flusher and
// http.Hijacker, the Flush and Hijack that http.ResponseController finds
// through Unwrap on the pipeline's writer.
type controllerWriter struct{ http.ResponseWriter }

func (w controllerWriter) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }

func (w controllerWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

func (w controllerWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
