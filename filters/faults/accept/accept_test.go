package accept

import "testing"

var (
	healthOffers = []string{"text/plain", "text/html", "application/json"}
	webobOffers  = []string{"text/html", "application/json"}
)

func TestNegotiate(t *testing.T) {
	tests := []struct {
		name   string
		header string
		offers []string
		want   string
		ok     bool
	}{
		{"empty header accepts nothing", "", healthOffers, "", false},
		{"exact json", "application/json", healthOffers, "application/json", true},
		{"exact html", "text/html", healthOffers, "text/html", true},
		{"q-values pick html", "application/json;q=0.5, text/html", healthOffers, "text/html", true},
		{"no match", "image/png", healthOffers, "", false},
		{"star star takes first offer", "*/*", healthOffers, "text/plain", true},
		{"star star webob page is html", "*/*", webobOffers, "text/html", true},
		{"text plain matches no webob offer", "text/plain", webobOffers, "", false},
		{"type wildcard", "text/*", webobOffers, "text/html", true},
		{"more specific range wins", "text/*;q=0.9, text/html;q=0", healthOffers, "text/plain", true},
		{"q zero excludes", "application/json;q=0", healthOffers, "", false},
		{"tie goes to earlier offer", "application/json, text/html", healthOffers, "text/html", true},
		{"higher q later offer", "text/plain;q=0.1, application/json", healthOffers, "application/json", true},
		{"case insensitive", "Application/JSON", healthOffers, "application/json", true},
		{"params do not match bare offer", "text/html;level=1", webobOffers, "", false},
		{"invalid header accepts first", "garbage", webobOffers, "text/html", true},
		{"invalid q accepts first", "application/json;q=2", webobOffers, "text/html", true},
		{"empty elements allowed", ",, application/json ,", webobOffers, "application/json", true},
		{"browser header", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", healthOffers, "text/html", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Negotiate(tt.header, tt.offers)
			if got != tt.want || ok != tt.ok {
				t.Errorf("Negotiate(%q) = %q, %v; want %q, %v", tt.header, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestNegotiateNoAlloc(t *testing.T) {
	n := testing.AllocsPerRun(100, func() {
		Negotiate("application/json;q=0.5, text/html, */*;q=0.1", healthOffers)
	})
	if n != 0 {
		t.Errorf("allocs = %v, want 0", n)
	}
}
