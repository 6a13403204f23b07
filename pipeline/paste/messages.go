package paste

import (
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// pyRepr quotes s the way Python's repr does for a str, so that messages
// read like Paste Deploy's.
func pyRepr(s string) string {
	q := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == rune(q):
			b.WriteByte('\\')
			b.WriteByte(q)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == utf8.RuneError:
			b.WriteString(`\ufffd`)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			fmt.Fprintf(&b, `\x%02x`, r)
		case !unicode.IsPrint(r) && r != ' ':
			if r <= 0xffff {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else {
				fmt.Fprintf(&b, `\U%08x`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
	return b.String()
}

// pyReprList formats names like Python's repr of a list of str.
func pyReprList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = pyRepr(n)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// EditDistance is the Levenshtein distance between a and b, in runes
// (bounded: strings over 64 runes only compare equal or not). It is the
// one distance behind every "did you mean" of the loader and the builder.
func EditDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		if a == b {
			return 0
		}
		return max(len(ra), len(rb))
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// suggest returns up to three candidates nearest to name: equal ignoring
// case, or within an edit distance of about a third of the name's length.
func suggest(name string, cands []string) []string {
	type sc struct {
		s string
		d int
	}
	var out []sc
	seen := map[string]bool{}
	limit := max(1, (utf8.RuneCountInString(name)+2)/3)
	for _, c := range cands {
		if c == name || seen[c] {
			continue
		}
		seen[c] = true
		d := EditDistance(name, c)
		if strings.EqualFold(c, name) {
			d = 0
		}
		if d <= limit {
			out = append(out, sc{c, d})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].d != out[j].d {
			return out[i].d < out[j].d
		}
		return out[i].s < out[j].s
	})
	var res []string
	for i := 0; i < len(out) && i < 3; i++ {
		res = append(res, out[i].s)
	}
	return res
}

// didYouMean formats suggestions as "; did you mean 'a' or 'b'?", or "".
func didYouMean(s []string) string {
	if len(s) == 0 {
		return ""
	}
	q := make([]string, len(s))
	for i, n := range s {
		q[i] = pyRepr(n)
	}
	return "; did you mean " + strings.Join(q, " or ") + "?"
}
