package redact

import (
	"net/http"
	"strings"
	"testing"
)

func TestIsSecret(t *testing.T) {
	for name, want := range map[string]bool{
		"Authorization":                    true,
		"Proxy-Authorization":              true,
		"Cookie":                           true,
		"Set-Cookie":                       true,
		"X-Auth-Token":                     true,
		"X-Subject-Token":                  true,
		"X-Service-Token":                  true,
		"x_auth_token":                     true,
		"X-Storage-Token":                  true,
		"X-Auth-Key":                       true,
		"X-Trace-Hmac":                     true,
		"X-Account-Meta-Temp-Url-Key":      true,
		"X-Openstack-Request-Id":           false,
		"Content-Type":                     false,
		"Accept":                           false,
		"User-Agent":                       false,
		"X-Forwarded-For":                  false,
		strings.Repeat("X", 80) + "-Token": true,
	} {
		if got := IsSecret(name); got != want {
			t.Errorf("IsSecret(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestCap(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"abc", 5, "abc"},
		{"abcdef", 3, "abc..."},
		{"héllo", 2, "h..."}, // never cuts inside "é"
		{"abc", 0, "abc"},
	}
	for _, tt := range tests {
		if got := Cap(tt.in, tt.n); got != tt.want {
			t.Errorf("Cap(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestHeaderAttrs(t *testing.T) {
	h := http.Header{
		"X-Auth-Token": {"gAAAA-secret"},
		"Cookie":       {"s=1"},
		"Accept":       {"a", "b"},
		"X-Long":       {strings.Repeat("v", 1000)},
	}
	attrs := HeaderAttrs(h)
	got := map[string]string{}
	for _, a := range attrs {
		got[a.Key] = a.Value.String()
	}
	if got["X-Auth-Token"] != Mask || got["Cookie"] != Mask {
		t.Errorf("secrets not masked: %v", got)
	}
	if got["Accept"] != "a, b" {
		t.Errorf("Accept = %q", got["Accept"])
	}
	if len(got["X-Long"]) != MaxHeaderValue+3 {
		t.Errorf("X-Long not capped: %d bytes", len(got["X-Long"]))
	}
	if attrs[0].Key != "Accept" {
		t.Errorf("not sorted: first %q", attrs[0].Key)
	}
	many := http.Header{}
	for i := 0; i < MaxHeaders+5; i++ {
		many.Set("X-H"+strings.Repeat("a", i), "v")
	}
	attrs = HeaderAttrs(many)
	if len(attrs) != MaxHeaders+1 || attrs[MaxHeaders].Key != "..." || attrs[MaxHeaders].Value.Int64() != 5 {
		t.Errorf("headers not bounded: %d attrs, last %v", len(attrs), attrs[len(attrs)-1])
	}
}
