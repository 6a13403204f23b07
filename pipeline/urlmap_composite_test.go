package pipeline

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/vietstack/vietstack-api/pipeline/paste"
)

// TestURLMapComposite: a project urlmap wrapper (cinder's root_app_factory)
// is an opaque composite in the graph; the urlmap composite reads its keys
// at build time with the loader's parser and order.
func TestURLMapComposite(t *testing.T) {
	dir := t.TempDir()
	ini := filepath.Join(dir, "api-paste.ini")
	os.WriteFile(ini, []byte(`[composite:main]
use = call:cinder.api:root_app_factory
/ = root
/v2/ = v2
/v2.1 = v21
domain API.example.com = dom

[app:root]
use = egg:vietstack#marks
mark = root

[app:v2]
use = egg:vietstack#marks
mark = v2

[app:v21]
use = egg:vietstack#marks
mark = v21

[app:dom]
use = egg:vietstack#marks
mark = dom
`), 0o600)
	g, err := paste.Load(ini, paste.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if g.Root.Type != paste.TypeComposite {
		t.Fatalf("root is %s, want an opaque composite", g.Root.Type)
	}
	var closed []string
	gen, err := Build(context.Background(), g, BuildOptions{Registry: testRegistry(&closed)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ host, path, want string }{
		{"localhost", "/", "root seen= script= path=/"},
		{"localhost", "/v2/x", "v2 seen= script=/v2 path=/x"},
		{"localhost", "/v2.1", "v21 seen= script=/v2.1 path="},
		{"api.example.com", "/v2/x", "dom seen= script= path=/v2/x"},
	} {
		req := httptest.NewRequest("GET", tt.path, nil)
		req.Host = tt.host
		rec := httptest.NewRecorder()
		gen.Handler.ServeHTTP(rec, req)
		if rec.Body.String() != tt.want {
			t.Errorf("%s %s: %q, want %q", tt.host, tt.path, rec.Body.String(), tt.want)
		}
	}
}
