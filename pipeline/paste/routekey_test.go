package paste

import "testing"

// TestParseRouteKey: the exported form of the loader's urlmap key parser,
// as composites use it at build time.
func TestParseRouteKey(t *testing.T) {
	tests := []struct {
		in      string
		want    RouteKey
		wantErr string
	}{
		{"/", RouteKey{}, ""},
		{"/v2/", RouteKey{Path: "/v2"}, ""},
		{"//docs//", RouteKey{Path: "/docs"}, ""},
		{"/v2/+", RouteKey{Path: "/v2/+"}, ""},
		{"domain api.example.com", RouteKey{Domain: "api.example.com"}, ""},
		{"domain API.x port 8443 /admin", RouteKey{Domain: "API.x:8443", Path: "/admin"}, ""},
		{"domain", RouteKey{}, "'domain' must be followed with a domain name"},
		{"domain a domain b", RouteKey{}, "'domain' given twice"},
		{"port 80 /x", RouteKey{}, "If you give a port, you must also give a domain"},
		{"/a /b", RouteKey{}, "more than one path given (have '/a', got '/b')"},
		{"v2", RouteKey{}, "URL fragments must start with / or http:// (you gave 'v2')"},
	}
	for _, tt := range tests {
		got, err := ParseRouteKey(tt.in)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("ParseRouteKey(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseRouteKey(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestSortRouteKeys(t *testing.T) {
	keys := []RouteKey{{Path: ""}, {Path: "/v2"}, {Domain: "b.x"}, {Path: "/v2.1"}, {Domain: "a.x", Path: "/p"}, {Domain: "a.x"}}
	SortRouteKeys(keys)
	want := []RouteKey{{Domain: "a.x", Path: "/p"}, {Domain: "a.x"}, {Domain: "b.x"}, {Path: "/v2.1"}, {Path: "/v2"}, {Path: ""}}
	for i := range want {
		if keys[i] != want[i] {
			t.Fatalf("order = %+v, want %+v", keys, want)
		}
	}
}
