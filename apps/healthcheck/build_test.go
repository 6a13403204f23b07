package healthcheck

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/vietstack/vietstack-api/pipeline"
	"github.com/vietstack/vietstack-api/pipeline/paste"
)

// TestBuildFromPaste builds testdata/paste.ini through the real loader
// and composer: the oslo spellings resolve, egg:oslo.middleware#healthcheck
// is a filter where a filter is expected, and the options reach the
// healthchecks.
func TestBuildFromPaste(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("testdata/paste.ini")
	if err != nil {
		t.Fatal(err)
	}
	ini := filepath.Join(dir, "paste.ini")
	if err := os.WriteFile(ini, data, 0o600); err != nil {
		t.Fatal(err)
	}
	g, err := paste.Load(ini, paste.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg := pipeline.NewRegistry()
	drain := &Drain{}
	Register(reg, WithDrain(drain))
	reg.App("teapot", func(ctx context.Context, c *pipeline.Config) (http.Handler, error) {
		return echo, nil
	}, pipeline.Info{Doc: "test app"})
	gen, err := pipeline.Build(context.Background(), g, pipeline.BuildOptions{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer gen.Close()

	get := func(path string) (int, string) {
		w := httptest.NewRecorder()
		gen.Handler.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		return w.Code, w.Body.String()
	}
	for _, tt := range []struct {
		path   string
		status int
		body   string
	}{
		{"/healthcheck", 200, "OK"},
		{"/status", 200, ""},
		{"/servers", 418, "app"},
	} {
		if code, body := get(tt.path); code != tt.status || body != tt.body {
			t.Errorf("GET %s = %d %q, want %d %q", tt.path, code, body, tt.status, tt.body)
		}
	}
	os.WriteFile(filepath.Join(dir, "disable-app"), nil, 0o600)
	if code, body := get("/healthcheck"); code != 503 || body != "DISABLED BY FILE" {
		t.Errorf("disabled: %d %q", code, body)
	}
	drain.Set()
	if code, body := get("/status"); code != 503 || body != "SHUTTING DOWN" {
		t.Errorf("draining filter: %d %q", code, body)
	}
}
