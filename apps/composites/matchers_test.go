package composites

import (
	"regexp"
	"testing"
)

// hasTroveURLVersion replaces trove's regexp /v\d+\.?\d* (unanchored),
// once compiled at init; it must agree with it on every string over the
// interesting alphabet up to five symbols.
func TestTroveURLVersionAgreesWithRegexp(t *testing.T) {
	re := regexp.MustCompile(`/v\d+\.?\d*`)
	alphabet := []string{"/", "v", "V", "1", ".", "x", "/v", "٣"}
	n := 0
	var rec func(s string, left int)
	rec = func(s string, left int) {
		n++
		if got, want := hasTroveURLVersion(s), re.MatchString(s); got != want {
			t.Errorf("hasTroveURLVersion(%q) = %v, regexp says %v", s, got, want)
		}
		if left > 0 {
			for _, a := range alphabet {
				rec(s+a, left-1)
			}
		}
	}
	rec("", 5)
	for _, s := range []string{"/v1.0/instances", "/trove/v1", "/vv1", "/v/1", "/instances", "/v", "//v2"} {
		rec(s, 0)
	}
	if n < 37449 { // 1 + 8 + ... + 8^5
		t.Fatalf("checked %d strings, want the whole alphabet", n)
	}
}
