package versions

import (
	"regexp"
	"testing"
)

// The option parser once used package-level regexps compiled at init;
// isVersionID and isMicroversion replace them and must agree with them on
// every string over the interesting alphabet up to five symbols.
func TestMatchersAgreeWithRegexps(t *testing.T) {
	idRe := regexp.MustCompile(`^v[0-9]+(\.[0-9]+)*$`)
	microRe := regexp.MustCompile(`^[0-9]+\.[0-9]+$`)
	alphabet := []string{"v", "V", "0", "9", ".", "x", "\n", "٣"}
	var rec func(s string, left int)
	n := 0
	rec = func(s string, left int) {
		n++
		if got, want := isVersionID(s), idRe.MatchString(s); got != want {
			t.Errorf("isVersionID(%q) = %v, regexp says %v", s, got, want)
		}
		if got, want := isMicroversion(s), microRe.MatchString(s); got != want {
			t.Errorf("isMicroversion(%q) = %v, regexp says %v", s, got, want)
		}
		if left > 0 {
			for _, a := range alphabet {
				rec(s+a, left-1)
			}
		}
	}
	rec("", 5)
	for _, s := range []string{"v2.1", "v21.0.3", "v2.", "v.2", "2.1", "2.10", "v2..1", "v02"} {
		rec(s, 0)
	}
	if n < 37449 { // 1 + 8 + ... + 8^5
		t.Fatalf("checked %d strings, want the whole alphabet", n)
	}
}

func TestIsStatus(t *testing.T) {
	for _, s := range []string{"CURRENT", "SUPPORTED", "DEPRECATED", "EXPERIMENTAL", "STABLE"} {
		if !isStatus(s) {
			t.Errorf("isStatus(%q) = false", s)
		}
	}
	for _, s := range []string{"", "current", "CURRENT ", "OBSOLETE"} {
		if isStatus(s) {
			t.Errorf("isStatus(%q) = true", s)
		}
	}
}
