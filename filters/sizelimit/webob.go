package sizelimit

import (
	"html"
	"net/http"
	"strconv"
	"strings"
)

// errorPage renders an error answer the way WebOb's HTTPException does
// (oslo's filters raise those): the body format is negotiated from Accept
// between text/html and application/json, falling back to text/plain.
// status is the full status line text ("413 Request Entity Too Large"),
// title the reason phrase, explanation the message.
func errorPage(accept, status, title, explanation string) (contentType string, body []byte) {
	switch negotiate(accept) {
	case "text/html":
		var b strings.Builder
		b.WriteString("<html>\n <head>\n  <title>")
		b.WriteString(status)
		b.WriteString("</title>\n </head>\n <body>\n  <h1>")
		b.WriteString(status)
		b.WriteString("</h1>\n  ")
		b.WriteString(html.EscapeString(explanation))
		b.WriteString("<br /><br />\n\n\n\n </body>\n</html>")
		return "text/html; charset=UTF-8", []byte(b.String())
	case "application/json":
		// json.dumps({"message": ..., "code": ..., "title": ...}) with
		// Python's default separators.
		b := []byte(`{"message": `)
		b = appendJSONString(b, explanation+"<br /><br />\n\n\n")
		b = append(b, `, "code": `...)
		b = appendJSONString(b, status)
		b = append(b, `, "title": `...)
		b = appendJSONString(b, title)
		b = append(b, '}')
		return "application/json", b
	}
	return "text/plain; charset=UTF-8", []byte(status + "\n\n" + explanation + "\n\n   ")
}

// appendJSONString appends s as a JSON string escaped as Python's
// json.dumps does with ensure_ascii (the default).
func appendJSONString(b []byte, s string) []byte {
	const hexdig = "0123456789abcdef"
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"':
			b = append(b, '\\', '"')
		case r == '\\':
			b = append(b, '\\', '\\')
		case r == '\n':
			b = append(b, '\\', 'n')
		case r == '\r':
			b = append(b, '\\', 'r')
		case r == '\t':
			b = append(b, '\\', 't')
		case r < 0x20 || r > 0x7e:
			if r > 0xffff {
				r -= 0x10000
				hi, lo := 0xd800+(r>>10), 0xdc00+(r&0x3ff)
				b = append(b, '\\', 'u', hexdig[hi>>12&0xf], hexdig[hi>>8&0xf], hexdig[hi>>4&0xf], hexdig[hi&0xf])
				r = lo
			}
			b = append(b, '\\', 'u', hexdig[r>>12&0xf], hexdig[r>>8&0xf], hexdig[r>>4&0xf], hexdig[r&0xf])
		default:
			b = append(b, byte(r))
		}
	}
	return append(b, '"')
}

// negotiate picks "text/html", "application/json" or "" (plain text) from
// an Accept header value as WebOb 1.8 does: the offer with the highest q
// of its most specific matching media range wins, html before json on a
// tie; an empty header matches nothing; an unparsable header accepts
// everything (so html).
func negotiate(accept string) string {
	offers := [2]string{"text/html", "application/json"}
	var q [2]float64
	var spec [2]int // specificity of the range that set q; -1 none
	spec[0], spec[1] = -1, -1
	for elem := range strings.SplitSeq(accept, ",") {
		elem = strings.TrimSpace(elem)
		if elem == "" {
			continue
		}
		media, params, _ := strings.Cut(elem, ";")
		media = strings.ToLower(strings.TrimSpace(media))
		typ, sub, ok := strings.Cut(media, "/")
		if !ok || !isToken(typ) || !isToken(sub) || typ == "*" && sub != "*" {
			return offers[0]
		}
		weight, extra, ok := parseParams(params)
		if !ok {
			return offers[0]
		}
		if extra {
			continue // a range with media parameters matches no offer of ours
		}
		for i, off := range offers {
			ot, os, _ := strings.Cut(off, "/")
			s := -1
			switch {
			case typ == "*" && sub == "*":
				s = 0
			case typ == ot && sub == "*":
				s = 1
			case typ == ot && sub == os:
				s = 2
			}
			if s > spec[i] {
				spec[i], q[i] = s, weight
			}
		}
	}
	best := ""
	bestQ := 0.0
	for i, off := range offers {
		if spec[i] >= 0 && q[i] > bestQ {
			best, bestQ = off, q[i]
		}
	}
	return best
}

// parseParams parses the ";name=value" parameters of an Accept element and
// returns its q (1 by default) and whether it had media parameters other
// than q (accept-extensions after q are ignored).
func parseParams(s string) (q float64, extra, ok bool) {
	q = 1
	seenQ := false
	for p := range strings.SplitSeq(s, ";") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		name, val, found := strings.Cut(p, "=")
		if !found || !isToken(strings.TrimSpace(name)) {
			return 0, false, false
		}
		if strings.EqualFold(strings.TrimSpace(name), "q") {
			if seenQ {
				continue
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
			if err != nil || v < 0 || v > 1 {
				return 0, false, false
			}
			q, seenQ = v, true
			continue
		}
		if !seenQ {
			extra = true
		}
	}
	return q, extra, true
}

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

// writeErrorPage writes a WebOb-style error answer to w with code.
func writeErrorPage(w http.ResponseWriter, r *http.Request, code int, explanation string) {
	title := http.StatusText(code)
	ctype, body := errorPage(r.Header.Get("Accept"), strconv.Itoa(code)+" "+title, title, explanation)
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	w.Write(body)
}
