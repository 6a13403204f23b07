// Package redact decides which HTTP headers carry credentials and renders
// headers for logs with those values masked. It is shared by the filters
// that log requests (catch_errors, faultwrap, debug) so that they agree on
// what is secret.
//
// The rule is deliberately broad (OSSA-2017-001: oslo's catch_errors
// logged tokens; its fix only masked X-<word>-Token and missed
// Authorization and Cookie): a header is secret when its name, compared
// case-insensitively with "_" read as "-", is one of Authorization,
// Proxy-Authorization, Cookie, Set-Cookie, or contains "token", "secret",
// "passw", "credential", "signature", "hmac" or "session", or ends in
// "-key" or "apikey".
package redact

import (
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"unicode/utf8"
)

// Mask replaces the value of a secret header in logs.
const Mask = "*****"

var secretNames = []string{"authorization", "proxy-authorization", "cookie", "set-cookie"}

var secretParts = []string{"token", "secret", "passw", "credential", "signature", "hmac", "session"}

// IsSecret reports whether a header named name carries credentials and
// must be masked in logs (see the package doc for the rule).
func IsSecret(name string) bool {
	var buf [64]byte
	if len(name) > len(buf) {
		// Long names are unusual; be conservative and lower-case them
		// with an allocation.
		return isSecretLower(strings.ReplaceAll(strings.ToLower(name), "_", "-"))
	}
	b := buf[:len(name)]
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c == '_':
			c = '-'
		}
		b[i] = c
	}
	return isSecretLower(string(b))
}

func isSecretLower(n string) bool {
	for _, s := range secretNames {
		if n == s {
			return true
		}
	}
	for _, p := range secretParts {
		if strings.Contains(n, p) {
			return true
		}
	}
	return strings.HasSuffix(n, "-key") || strings.HasSuffix(n, "apikey")
}

// Cap returns s cut to at most n bytes at a UTF-8 boundary, with "..."
// appended when it was cut. n <= 0 means no limit.
func Cap(s string, n int) string {
	if n <= 0 || len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// Limits bound what HeaderAttrs renders, so that a request with huge or
// numerous headers cannot flood the log.
const (
	MaxHeaders     = 64
	MaxHeaderValue = 256
)

// HeaderAttrs renders h for a structured log record: one string attribute
// per header name (sorted, in canonical form), repeated values joined with
// ", ", secret values replaced by Mask, other values capped at
// MaxHeaderValue bytes, at most MaxHeaders names (a final "..." attribute
// counts the rest). Escaping of control characters is left to the slog
// handler, which quotes every value.
func HeaderAttrs(h http.Header) []slog.Attr {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	n := len(names)
	if n > MaxHeaders {
		names = names[:MaxHeaders]
	}
	attrs := make([]slog.Attr, 0, len(names)+1)
	for _, k := range names {
		v := Mask
		if !IsSecret(k) {
			v = Cap(strings.Join(h[k], ", "), MaxHeaderValue)
		}
		attrs = append(attrs, slog.String(Cap(k, MaxHeaderValue), v))
	}
	if n > MaxHeaders {
		attrs = append(attrs, slog.Int("...", n-MaxHeaders))
	}
	return attrs
}
