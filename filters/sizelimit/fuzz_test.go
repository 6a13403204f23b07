package sizelimit

import (
	"github.com/vietstack/vietstack-api/filters/osloconf"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzNegotiate checks that any Accept value picks one of the three page
// formats without panicking.
func FuzzNegotiate(f *testing.F) {
	for _, s := range []string{"", "*/*", "application/json", "text/html;q=0, application/json;q=0.5",
		"text", "text/*;level=1", "application/*;q=1.5", ";;", "a/b;q=", "*/json"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, accept string) {
		switch got := negotiate(accept); got {
		case "", "text/html", "application/json":
		default:
			t.Fatalf("negotiate(%q) = %q", accept, got)
		}
		ctype, body := errorPage(accept, "413 Request Entity Too Large", "Request Entity Too Large", "x")
		if ctype == "" || len(body) == 0 {
			t.Fatalf("empty page for %q", accept)
		}
	})
}

// FuzzOsloConfig checks that the oslo.config reader never panics and that
// what it returns round-trips through get.
func FuzzOsloConfig(f *testing.F) {
	for _, s := range []string{"[DEFAULT]\na = 1\n", "[cors]\nallowed_origin = \"x\"\n  continued\n", "a=1", "[x\n", "[]\n", "[s]\n;c\n#c\nk: v\n"} {
		f.Add(s)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, content string) {
		p := filepath.Join(dir, "f.conf")
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		o := osloconf.NewFile()
		if err := o.Read(p); err != nil {
			return
		}
		for _, sec := range o.Sections() {
			for _, k := range o.Keys(sec) {
				v, ok, err := o.Lookup(sec, k)
				got, where, gok, gerr := o.Get(sec, k)
				if !ok || !gok || got != v.Value || (err == nil) != (gerr == nil) || !strings.Contains(where, sec) {
					t.Fatalf("get(%q, %q) = %q, %q, %v", sec, k, got, where, ok)
				}
			}
		}
	})
}
