// Package debuglog provides the "debug" filter, oslo.middleware's Debug
// (egg:oslo.middleware#debug, oslo_middleware.debug:Debug.factory): it
// logs each request and its response, for troubleshooting a pipeline.
//
// oslo's Debug prints the whole WSGI environ, the response headers and the
// response body to stdout. Here each request gives two records through the
// daemon's logger, at the level option (debug by default, so nothing is
// written unless the daemon logs at that level; then the filter costs one
// Enabled check per request):
//
//   - "debug: request": method, path, query (values of credential-looking
//     parameters masked), protocol, host, client address, request id and
//     the request headers;
//   - "debug: response": status, body bytes, duration and the response
//     headers.
//
// Credentials never reach the log: the values of Authorization, Cookie,
// Set-Cookie, X-Auth-Token, X-Subject-Token, X-Service-Token and every
// other header that package redact deems secret are masked, and bodies
// (which carry passwords in Keystone authentication requests) are not
// logged at all. Field sizes are capped.
package debuglog

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/vietstack/vietstack-api/filters/faults/redact"
	"github.com/vietstack/vietstack-api/pipeline"
)

// Options are the options of the debug filter.
type Options struct {
	Level string `ini:"level" default:"debug" doc:"log level of the records: debug, info or warn"`

	_ struct{} `ini:"oslo_config_project,ignore" doc:"accepted for oslo compatibility; no effect"`
	_ struct{} `ini:"oslo_config_file,ignore" doc:"accepted for oslo compatibility; no effect"`
	_ struct{} `ini:"oslo_config_program,ignore" doc:"accepted for oslo compatibility; no effect"`
}

// Validate checks the options.
func (o *Options) Validate() error {
	if _, ok := levels[strings.ToLower(o.Level)]; !ok {
		return fmt.Errorf("level: %q is not debug, info or warn", o.Level)
	}
	return nil
}

var levels = map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn}

// Register registers the "debug" filter and its oslo spellings in reg.
func Register(reg *pipeline.Registry) {
	reg.Filter("debug", Factory, pipeline.Info{
		Doc:     "oslo Debug: logs each request and response (headers, status) with credentials masked; bodies are not logged",
		Options: Options{},
	})
	for _, a := range []string{
		"oslo_middleware.debug:Debug.factory",
		"oslo_middleware:Debug.factory",
		"egg:oslo.middleware#debug",
	} {
		reg.Alias(a, "debug")
	}
}

// Factory is the FilterFactory of debug.
func Factory(ctx context.Context, c *pipeline.Config) (pipeline.Middleware, error) {
	var o Options
	if err := c.Decode(&o); err != nil {
		return nil, err
	}
	return New(c.Logger, levels[strings.ToLower(o.Level)]), nil
}

// New returns the debug middleware logging to logger (slog.Default() when
// nil) at level.
func New(logger *slog.Logger, level slog.Level) pipeline.Middleware {
	if logger == nil {
		logger = slog.Default()
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			if !logger.Enabled(ctx, level) {
				next.ServeHTTP(w, r)
				return
			}
			start := time.Now()
			st := pipeline.RequestFrom(r)
			script, remote, id := "", r.RemoteAddr, ""
			if st != nil {
				script, remote, id = st.ScriptName, st.RemoteAddr, st.RequestID
			}
			logger.LogAttrs(ctx, level, "debug: request",
				slog.String("request_id", id),
				slog.String("method", redact.Cap(r.Method, 32)),
				slog.String("script_name", redact.Cap(script, 1024)),
				slog.String("path", redact.Cap(r.URL.Path, 2048)),
				slog.String("query", redact.Cap(maskQuery(r.URL.RawQuery), 2048)),
				slog.String("proto", redact.Cap(r.Proto, 16)),
				slog.String("host", redact.Cap(r.Host, 256)),
				slog.String("remote_addr", redact.Cap(remote, 128)),
				slog.Int64("content_length", r.ContentLength),
				slog.Attr{Key: "headers", Value: slog.GroupValue(redact.HeaderAttrs(r.Header)...)},
			)
			var tw *pipeline.StatusRecorder
			if st == nil {
				tw = &pipeline.StatusRecorder{ResponseWriter: w}
				w = tw
			}
			next.ServeHTTP(w, r)
			status, n := 0, int64(0)
			if st != nil {
				status, n = st.Status(), st.BytesWritten()
				id = st.RequestID
			} else {
				status, n = tw.Status, tw.Bytes
			}
			if status == 0 {
				status = http.StatusOK
			}
			logger.LogAttrs(ctx, level, "debug: response",
				slog.String("request_id", id),
				slog.Int("status", status),
				slog.Int64("bytes", n),
				slog.Duration("duration", time.Since(start)),
				slog.Attr{Key: "headers", Value: slog.GroupValue(redact.HeaderAttrs(w.Header())...)},
			)
		})
	}
}

// maskQuery returns the raw query with the values of parameters whose
// names look like credentials (see redact.IsSecret, plus "sig", as in
// Swift's temp_url_sig) replaced by the mask. An unparsable query is
// replaced by a note.
func maskQuery(raw string) string {
	if raw == "" {
		return ""
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return "(unparsable query)"
	}
	secret := false
	for k := range q {
		if isSecretParam(k) {
			secret = true
			break
		}
	}
	if !secret {
		return raw
	}
	parts := strings.Split(raw, "&")
	for i, p := range parts {
		k, _, _ := strings.Cut(p, "=")
		if name, err := url.QueryUnescape(k); err == nil && isSecretParam(name) {
			parts[i] = k + "=" + redact.Mask
		}
	}
	return strings.Join(parts, "&")
}

func isSecretParam(name string) bool {
	return redact.IsSecret(name) || strings.Contains(strings.ToLower(name), "sig")
}
