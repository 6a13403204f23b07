package paste

import (
	"regexp"
	"strings"
	"testing"
)

// The loader once tested names with package-level regexps compiled at
// init; they are plain string code now, so that a start-up does not pay
// for compiling them. These tests hold the string code to the regexps it
// replaced, on every string over each matcher's interesting alphabet up
// to a length. (A fuzz target for the same comparison ran for 20 s,
// 66,000 inputs, without a disagreement; it is not kept, as make test runs
// every fuzz target for 60 s.)

var (
	absoluteRe  = regexp.MustCompile(`^[a-zA-Z]+:`)
	spaceRe     = regexp.MustCompile(`\s+`)
	distNameRe  = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$`)
	distFoldRe  = regexp.MustCompile(`[-_.]+`)
	domainURLRe = regexp.MustCompile(`^(http|https)://`)
	slashesRe   = regexp.MustCompile(`//+`)
)

// checkMatchers reports every matcher that disagrees with its regexp on s.
func checkMatchers(t *testing.T, s string) {
	t.Helper()
	if got, want := isAbsoluteURI(s), absoluteRe.MatchString(s); got != want {
		t.Errorf("isAbsoluteURI(%q) = %v, regexp says %v", s, got, want)
	}
	if got, want := isURLMapRef(s), spaceRe.ReplaceAllString(s, "") == "paste.urlmap:urlmap_factory"; got != want {
		t.Errorf("isURLMapRef(%q) = %v, regexp says %v", s, got, want)
	}
	if got, want := isDistName(s), distNameRe.MatchString(s); got != want {
		t.Errorf("isDistName(%q) = %v, regexp says %v", s, got, want)
	}
	if got, want := foldDistName(s), distFoldRe.ReplaceAllString(s, "-"); got != want {
		t.Errorf("foldDistName(%q) = %q, regexp says %q", s, got, want)
	}
	want := 0
	if m := domainURLRe.FindStringIndex(s); m != nil {
		want = m[1]
	}
	if got := domainPrefix(s); got != want {
		t.Errorf("domainPrefix(%q) = %d, regexp says %d", s, got, want)
	}
	if got, want := collapseSlashes(s), slashesRe.ReplaceAllString(s, "/"); got != want {
		t.Errorf("collapseSlashes(%q) = %q, regexp says %q", s, got, want)
	}
}

// every calls f with every string of up to n symbols of alphabet.
func every(alphabet []string, n int, f func(string)) {
	var rec func(prefix string, left int)
	rec = func(prefix string, left int) {
		f(prefix)
		if left == 0 {
			return
		}
		for _, a := range alphabet {
			rec(prefix+a, left-1)
		}
	}
	rec("", n)
}

func TestMatchersAgreeWithRegexps(t *testing.T) {
	alphabets := []struct {
		name     string
		alphabet []string
		n        int
	}{
		// Letters of both cases, digits, the separators the matchers
		// treat specially, every \s byte, \v (not \s), a non-ASCII letter
		// and an invalid byte.
		{"names", []string{"a", "Z", "0", ":", ".", "_", "-", "/", " ", "\t", "\n", "\f", "\r", "\v", "é", "\xff"}, 4},
		{"urls", []string{"http", "s", ":", "/", "x", "H"}, 5},
		{"urlmap", []string{"paste", ".", "urlmap", ":", "urlmap_factory", " ", "\n", "\v", "_"}, 4},
	}
	for _, a := range alphabets {
		t.Run(a.name, func(t *testing.T) {
			every(a.alphabet, a.n, func(s string) { checkMatchers(t, s) })
		})
	}
	for _, s := range []string{
		"egg:vietstack#noauth", "config:nova.ini", "call:mod:fn", "EGG:x", "e:", ":x", "1a:x",
		"paste.urlmap:urlmap_factory", " paste . urlmap : urlmap_factory \n", "paste.urlmap:urlmap_factory\v",
		"Paste", "paste", "oslo.middleware", "oslo_middleware", "a--b__c..d", "-paste", "paste-", "pa\u00e9ste",
		"http://host/a//b///c/", "https://", "http:/x", "httpS://x", "//", "///a//", strings.Repeat("/", 100),
	} {
		checkMatchers(t, s)
	}
}

// TestEntryPointPattern pins the lazily compiled entry-point pattern on
// the forms the loader relies on: the module, the object, and a
// non-match.
func TestEntryPointPattern(t *testing.T) {
	for _, c := range []struct {
		in, module, object string
		ok                 bool
	}{
		{"nova.api:factory", "nova.api", "factory", true},
		{" nova.api : factory [extra] ", "", "", false},
		{"nova.api : factory [extra] ", "nova.api", "factory", true},
		{"módulo:objeto", "módulo", "objeto", true},
		{"nova.api", "nova.api", "", true},
		{"nova-api:factory", "", "", false},
		{"nova.api:", "", "", false},
	} {
		m := entryPointRe().FindStringSubmatch(c.in)
		if (m != nil) != c.ok {
			t.Errorf("%q: match %v, want %v", c.in, m != nil, c.ok)
			continue
		}
		if m != nil && (m[1] != c.module || m[3] != c.object) {
			t.Errorf("%q: module %q object %q, want %q %q", c.in, m[1], m[3], c.module, c.object)
		}
	}
}
