// Package accept chooses a response media type from an HTTP Accept header
// the way WebOb 1.8 does (Accept.acceptable_offers), so that built-ins
// which imitate WebOb answers (oslo's healthcheck, WebOb error pages)
// negotiate exactly as the Python originals.
//
// The rules: each offer gets the q-value of the most specific media range
// that matches it (type/subtype with equal parameters, then type/subtype,
// then type/*, then */*); offers with q = 0 or with no matching range are
// not acceptable; the acceptable offers are ranked by q-value, ties going
// to the earlier offer. An Accept header that does not parse is treated as
// accepting every offer, as WebOb does.
package accept

import "strings"

// Negotiate returns the offer that the Accept header value header prefers
// among offers (lower-case "type/subtype" strings), and false when no
// offer is acceptable; an empty header accepts nothing, a header that does
// not parse accepts offers[0]. It does not allocate.
func Negotiate(header string, offers []string) (string, bool) {
	if len(offers) == 0 {
		return "", false
	}
	if !valid(header) {
		return offers[0], true
	}
	best, bestQ := -1, 0
	for i, offer := range offers {
		q := quality(header, offer)
		if q > bestQ {
			best, bestQ = i, q
		}
	}
	if best < 0 {
		return "", false
	}
	return offers[best], true
}

// quality returns the q-value (in thousandths) the header gives offer, 0
// when no range matches it. header must be valid.
func quality(header, offer string) int {
	otype, osub, _ := strings.Cut(offer, "/")
	spec, q := 0, 0
	for rest := header; rest != ""; {
		var elem string
		elem, rest, _ = strings.Cut(rest, ",")
		elem = trimOWS(elem)
		if elem == "" {
			continue
		}
		mr, params, _ := strings.Cut(elem, ";")
		mr = trimOWS(mr)
		rtype, rsub, _ := strings.Cut(mr, "/")
		rq, hasExt := qvalue(params)
		s := 0
		switch {
		case rtype == "*" && rsub == "*":
			s = 1
		case rsub == "*" && strings.EqualFold(rtype, otype):
			s = 2
		case strings.EqualFold(rtype, otype) && strings.EqualFold(rsub, osub):
			// Offers carry no parameters: a range with media type
			// parameters does not match them.
			if hasExt {
				continue
			}
			s = 3
		default:
			continue
		}
		if s > spec {
			spec, q = s, rq
		}
	}
	return q
}

// qvalue parses the parameters of one media range: it returns the q-value
// in thousandths (1000 when absent) and whether media type parameters
// other than q (which come before it) were given.
func qvalue(params string) (q int, hasParams bool) {
	q = 1000
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		p = trimOWS(p)
		name, val, _ := strings.Cut(p, "=")
		name = trimOWS(name)
		if strings.EqualFold(name, "q") {
			q, _ = parseQ(trimOWS(val))
			return q, hasParams
		}
		if name != "" {
			hasParams = true
		}
	}
	return q, hasParams
}

// parseQ parses an RFC 7231 qvalue ("0", "0.5", "1.000") into thousandths.
func parseQ(s string) (int, bool) {
	if s == "" || len(s) > 5 || (s[0] != '0' && s[0] != '1') {
		return 0, false
	}
	whole := int(s[0] - '0')
	if len(s) == 1 {
		return whole * 1000, true
	}
	if s[1] != '.' {
		return 0, false
	}
	frac, scale := 0, 100
	for i := 2; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' || (whole == 1 && c != '0') {
			return 0, false
		}
		frac += int(c-'0') * scale
		scale /= 10
	}
	return whole*1000 + frac, true
}

// valid reports whether header parses as an Accept value: a comma list
// (empty elements allowed) of type/subtype media ranges made of token
// characters, each with ";name=value" parameters and a well-formed q.
func valid(header string) bool {
	for rest := header; rest != ""; {
		var elem string
		elem, rest, _ = strings.Cut(rest, ",")
		elem = trimOWS(elem)
		if elem == "" {
			continue
		}
		mr, params, _ := strings.Cut(elem, ";")
		rtype, rsub, ok := strings.Cut(trimOWS(mr), "/")
		if !ok || !isToken(rtype) || !isToken(rsub) || (rtype == "*" && rsub != "*") {
			return false
		}
		for params != "" {
			var p string
			p, params, _ = strings.Cut(params, ";")
			name, val, ok := strings.Cut(trimOWS(p), "=")
			name, val = trimOWS(name), trimOWS(val)
			if !ok || !isToken(name) || val == "" {
				return false
			}
			if strings.EqualFold(name, "q") {
				if _, ok := parseQ(val); !ok {
					return false
				}
			} else if !isToken(val) && !isQuoted(val) {
				return false
			}
		}
	}
	return true
}

func trimOWS(s string) string { return strings.Trim(s, " \t") }

func isQuoted(s string) bool {
	return len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"'
}

// isToken reports whether s is a non-empty RFC 7230 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
